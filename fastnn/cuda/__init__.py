"""The CUDA backend: ``numba.cuda`` twins of fastnn's training kernels and their trainer.

``device.py`` holds the device functions (activations, losses, optimizer steps), ``per_sample``
the per-sample epoch (one block per network), ``batches`` the mini-batch and prediction
kernels, ``trainer`` the trainer behind ``fastnn.backends``, and ``many`` the training of many
networks in one launch. Imported only for ``device="cuda"`` (``fastnn.backends.get_trainer``).
"""
