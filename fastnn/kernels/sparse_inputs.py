"""The first layer's per-sample step for inputs that are mostly zero, such as MNIST's pixels.

A zero input leaves its column of the first weight matrix out of a half of the fused step:
where the previous sample's input is zero, the column's update is ``w - step * 0``, and where
this sample's is, its share of the product is ``w * 0``. These routines work on a transposed
copy of the matrix, ``(n_in, n_out)``, so the column of each input is one contiguous row. They
visit the rows of the previous sample's nonzero inputs, updating each and adding its share of
this sample's product in the same visit (zero where this sample's input is zero), then sum the
rows of this sample's other nonzero inputs. On MNIST each list holds about a fifth of the 784
pixels, and two consecutive samples share about half of theirs, whose rows are then read once
rather than twice; a row is written only when it changes, which beats one visit per row
nonzero in either sample (a third of them, read and written). Each visited row costs more
than a row of the dense loop in ``steps.sgd_update_affine`` (the outputs are read and written
per input rather than summed in registers), so the dense loop stays the choice for dense
inputs.
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
def sgd_update_affine_sparse(weights_t, bias, step_prev, x_prev, inputs_prev, x, buffer, scratch,
                             out):
    """``steps.sgd_update_affine`` on the transposed weights ``weights_t``, visiting only the
    inputs that are nonzero: ``inputs_prev``, the indices of ``x_prev``'s (what this call
    returned for it), for the step and their share of the product, and the others of ``x``'s,
    listed into ``scratch``, for the rest of the product. ``buffer`` and ``scratch`` are
    ``x.size`` long.

    Returns ``x``'s nonzero inputs, listed into ``buffer`` (a view of it), for the next
    sample's call, which must then list its own into another buffer. The weights are
    ``sgd_update_affine``'s bit for bit; the product adds the same terms in another order,
    and exact zeros.
    """
    for j in range(bias.size):
        bias[j] -= step_prev[j]
        out[j] = bias[j]
    inputs = nonzero_inputs(x, buffer)
    _step_rows_adding_product(weights_t, step_prev, x_prev, inputs_prev, x, out)
    _add_product_rows(weights_t, x, _zero_in(x_prev, inputs, scratch), out)
    return inputs


@kernel
def _zero_in(values, indices, buffer):
    """The entries of ``indices`` where ``values`` is zero, in order: a view of ``buffer``.
    Branch-free, as ``nonzero_inputs`` is."""
    count = 0
    for k in range(indices.size):
        i = indices[k]
        buffer[count] = i
        count += values[i] == 0.0
    return buffer[:count]


@kernel
def _step_rows_adding_product(weights_t, step, x_prev, inputs, x, out):
    """For each index ``i`` in ``inputs``, ``weights_t[i] -= step * x_prev[i]``, then
    ``out += weights_t[i] * x[i]``, four rows at a time so that each loaded ``step`` value
    serves four and ``out`` is read and written once per four."""
    n_blocked = inputs.size - inputs.size % 4
    for k in range(0, n_blocked, 4):
        (row0, row1, row2, row3), (x_prev0, x_prev1, x_prev2, x_prev3) = _four_rows(
            weights_t, x_prev, inputs, k)
        x0, x1, x2, x3 = x[inputs[k]], x[inputs[k + 1]], x[inputs[k + 2]], x[inputs[k + 3]]
        for j in range(step.size):
            step_j = step[j]
            w0 = row0[j] - step_j * x_prev0
            w1 = row1[j] - step_j * x_prev1
            w2 = row2[j] - step_j * x_prev2
            w3 = row3[j] - step_j * x_prev3
            row0[j], row1[j], row2[j], row3[j] = w0, w1, w2, w3
            out[j] += (w0 * x0 + w1 * x1) + (w2 * x2 + w3 * x3)
    for k in range(n_blocked, inputs.size):
        i = inputs[k]
        x_prev_i, x_i, row = x_prev[i], x[i], weights_t[i]
        for j in range(step.size):
            w = row[j] - step[j] * x_prev_i
            row[j] = w
            out[j] += w * x_i


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
    ``inputs[k .. k + 3]``: one block of ``_step_rows_adding_product`` or
    ``_add_product_rows``."""
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
