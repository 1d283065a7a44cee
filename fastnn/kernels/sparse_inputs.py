"""The first layer's per-sample step for inputs that are mostly zero, such as MNIST's pixels.

A zero input leaves its column of the first weight matrix out of a half of the fused step:
where the previous sample's input is zero, the column's update is ``w - step * 0``, and where
this sample's is, its share of the product is ``w * 0``. These routines work on a transposed
copy of the matrix, ``(n_in, n_out)``, so the column of each input is one contiguous row. They
update only the rows of the previous sample's nonzero inputs, then sum only the rows of this
sample's. On MNIST each list holds about a fifth of the 784 pixels, and a row is written only
when it changes, which beats one visit per row nonzero in either sample (a third of them, read
and written). Each visited row costs more than a row of the dense loop in
``steps.sgd_update_affine`` (the outputs are read and written per input rather than summed in
registers), so the dense loop stays the choice for dense inputs.
"""

from ..config import kernel


@kernel
def nonzero_inputs(x, buffer):
    """The indices where ``x`` is nonzero, in order: a view of ``buffer`` (``x.size`` long).

    Every index is written and the count advances only past the wanted ones, so the loop has
    no branch to mispredict on the irregular pattern of zero pixels.
    """
    count = 0
    for i in range(x.size):
        buffer[count] = i
        count += x[i] != 0.0
    return buffer[:count]


@kernel
def sgd_update_affine_sparse(weights_t, bias, step_prev, x_prev, inputs_prev, x, buffer, out):
    """``steps.sgd_update_affine`` on the transposed weights ``weights_t``, visiting only the
    inputs that are nonzero: ``inputs_prev``, the indices of ``x_prev``'s (what this call
    returned for it), for the step, and ``x``'s, listed into ``buffer``, for the product.

    Returns ``x``'s nonzero inputs, a view of ``buffer``, for the next sample's call, which
    must then list its own into another buffer. The weights are ``sgd_update_affine``'s bit
    for bit; the product adds the same terms in another order.
    """
    for j in range(bias.size):
        bias[j] -= step_prev[j]
        out[j] = bias[j]
    _step_rows(weights_t, step_prev, x_prev, inputs_prev)
    inputs = nonzero_inputs(x, buffer)
    _add_product_rows(weights_t, x, inputs, out)
    return inputs


@kernel
def _step_rows(weights_t, step, x_prev, inputs):
    """``weights_t[i] -= step * x_prev[i]`` for each index ``i`` in ``inputs``, four rows at a
    time so that each loaded ``step`` value serves four."""
    n_blocked = inputs.size - inputs.size % 4
    for k in range(0, n_blocked, 4):
        (row0, row1, row2, row3), (x_prev0, x_prev1, x_prev2, x_prev3) = _four_rows(
            weights_t, x_prev, inputs, k)
        for j in range(step.size):
            step_j = step[j]
            row0[j] -= step_j * x_prev0
            row1[j] -= step_j * x_prev1
            row2[j] -= step_j * x_prev2
            row3[j] -= step_j * x_prev3
    for k in range(n_blocked, inputs.size):
        i = inputs[k]
        x_prev_i, row = x_prev[i], weights_t[i]
        for j in range(step.size):
            row[j] -= step[j] * x_prev_i


@kernel
def _add_product_rows(weights_t, x, inputs, out):
    """``out += weights_t[i] * x[i]`` summed over the indices ``i`` in ``inputs``, four rows at
    a time so that ``out`` is read and written once per four."""
    n_blocked = inputs.size - inputs.size % 4
    for k in range(0, n_blocked, 4):
        (row0, row1, row2, row3), (x0, x1, x2, x3) = _four_rows(weights_t, x, inputs, k)
        for j in range(out.size):
            out[j] += (row0[j] * x0 + row1[j] * x1) + (row2[j] * x2 + row3[j] * x3)
    for k in range(n_blocked, inputs.size):
        i = inputs[k]
        x_i, row = x[i], weights_t[i]
        for j in range(out.size):
            out[j] += row[j] * x_i


@kernel(inline="always")
def _four_rows(weights_t, values, inputs, k):
    """The rows of ``weights_t`` and the entries of ``values`` at the indices
    ``inputs[k .. k + 3]``: one block of ``_step_rows`` or ``_add_product_rows``."""
    i0, i1, i2, i3 = inputs[k], inputs[k + 1], inputs[k + 2], inputs[k + 3]
    return ((weights_t[i0], weights_t[i1], weights_t[i2], weights_t[i3]),
            (values[i0], values[i1], values[i2], values[i3]))


@kernel
def transpose_into(source, out):
    """``out[:, :] = source.T``, reading eight rows of ``source`` at a time.

    Each visit to a row of ``out`` then writes eight adjacent values, not one as NumPy's
    element-by-element strided copy does, which on the first layer's shape is much slower.
    """
    n_rows = source.shape[0]
    n_blocked = n_rows - n_rows % 8
    for i in range(0, n_blocked, 8):
        row0, row1, row2, row3 = source[i], source[i + 1], source[i + 2], source[i + 3]
        row4, row5, row6, row7 = source[i + 4], source[i + 5], source[i + 6], source[i + 7]
        for j in range(source.shape[1]):
            column = out[j]
            column[i], column[i + 1], column[i + 2], column[i + 3] = (
                row0[j], row1[j], row2[j], row3[j])
            column[i + 4], column[i + 5], column[i + 6], column[i + 7] = (
                row4[j], row5[j], row6[j], row7[j])
    for i in range(n_blocked, n_rows):
        out[:, i] = source[i]
