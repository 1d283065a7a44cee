"""The first layer's per-sample step for inputs that are mostly zero, such as MNIST's pixels.

A zero input leaves its column of the first weight matrix out of both halves of the fused
step: its update is ``w - step * 0`` and its share of the product is ``w * 0``. These
routines work on a transposed copy of the matrix, ``(n_in, n_out)``, so the column of each
input is one contiguous row, and visit only the inputs that are nonzero in the previous or the
current sample. On MNIST that is about 30% of the 784 pixels. Each visited row costs more than
a row of the dense loop in ``steps.sgd_update_affine`` (the outputs are read and written per
input rather than summed in registers), so the dense loop stays the choice for dense inputs.
"""

from ..config import kernel


@kernel
def nonzero_inputs(x_prev, x, active):
    """Indices where ``x_prev`` or ``x`` is nonzero, in order, into ``active``; returns how many.

    Every index is written and the count advances only past the wanted ones, so the loop has
    no branch to mispredict on the irregular pattern of zero pixels.
    """
    count = 0
    for i in range(x.size):
        active[count] = i
        count += (x_prev[i] != 0.0) | (x[i] != 0.0)
    return count


@kernel
def sgd_update_affine_sparse(weights_t, bias, step_prev, x_prev, x, out, active):
    """``steps.sgd_update_affine`` on the transposed weights ``weights_t``, skipping the inputs
    that are zero in both ``x_prev`` and ``x``; ``active`` is an index buffer of ``x.size``.

    Inputs go two at a time, so ``out`` is read and written once per pair rather than once per
    input.
    """
    for j in range(bias.size):
        bias[j] -= step_prev[j]
        out[j] = bias[j]
    count = nonzero_inputs(x_prev, x, active)
    n_paired = count - count % 2
    for k in range(0, n_paired, 2):
        i0, i1 = active[k], active[k + 1]
        x_prev0, x0, row0 = x_prev[i0], x[i0], weights_t[i0]
        x_prev1, x1, row1 = x_prev[i1], x[i1], weights_t[i1]
        for j in range(out.size):
            step = step_prev[j]
            w0 = row0[j] - step * x_prev0
            w1 = row1[j] - step * x_prev1
            row0[j] = w0
            row1[j] = w1
            out[j] += w0 * x0 + w1 * x1
    for k in range(n_paired, count):
        i = active[k]
        x_prev_i, x_i, w_row = x_prev[i], x[i], weights_t[i]
        for j in range(out.size):
            w = w_row[j] - step_prev[j] * x_prev_i
            w_row[j] = w
            out[j] += w * x_i
