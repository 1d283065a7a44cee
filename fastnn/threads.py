"""The BLAS thread count that training runs with."""

import functools

from threadpoolctl import ThreadpoolController


@functools.cache
def _blas_libraries():
    return ThreadpoolController()


def one_blas_thread():
    """Context holding BLAS to one thread, as every training step runs.

    A step's matrix products are small (a mini-batch): a second BLAS thread costs about as much
    to synchronise as it saves, and far more when the other cores are busy, so
    ``fastnn.train_many`` uses the cores for whole networks instead. Prediction outside ``fit``,
    over blocks of ``config.BLOCK_ROWS`` rows, keeps BLAS's own thread count.
    """
    return _blas_libraries().limit(limits=1, user_api="blas")
