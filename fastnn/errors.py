"""The exceptions and warnings fastnn raises for what it cannot do, and their messages."""


class DivergenceError(FloatingPointError):
    """Training met an infinite or NaN loss or weight; the weights were restored."""


class DivergenceWarning(RuntimeWarning):
    """Training stopped at an infinite or NaN loss or weight (``on_divergence="warn"``)."""


class DeviceUnavailableError(RuntimeError):
    """``device="cuda"`` was asked for where it cannot run: no numba-cuda, or no GPU."""


class DeviceMemoryError(MemoryError):
    """The GPU has too little free memory for a fit or a prediction; nothing was changed."""


class ModelFileError(ValueError):
    """A file is not a fastnn network this version can read: damaged, foreign or too new."""


def divergence_message(epoch, position, order, batch_size):
    """What went wrong in ``epoch`` (counted from 1), which trained ``X[order]`` in batches of
    ``batch_size``: at ``position`` in ``order``, or in the last updates when it is
    ``len(order)``, a loss or weight became infinite or NaN."""
    n = len(order)
    if position == n:
        where = "in the updates of its last samples"
    elif batch_size == n:
        where = "in its full-batch step"
    elif batch_size > 1:
        last = min(position + batch_size, n) - 1
        where = f"in the batch of samples {position:,} to {last:,} of {n:,}"
    else:
        where = f"at sample {position:,} of {n:,} (row {order[position]} of X)"
    return (f"training diverged in epoch {epoch} {where}: a loss or weight became infinite or "
            f"NaN. The weights are restored to the end of "
            f"{'epoch ' + str(epoch - 1) if epoch > 1 else 'the previous fit'}; "
            f"try a smaller lr or scaled inputs.")
