"""Plain per-sample SGD's fused steps (every other step is in ``optimizers``).

Per-sample SGD never materialises a gradient: its steps are fused into the passes that need
each weight anyway, so every weight is loaded and stored once per sample
(``backprop_sgd_update`` for the layers above the first, ``sgd_update_affine`` and its
zero-skipping twin in ``sparse_inputs`` for the first).
"""

from ..config import kernel


@kernel
def apply_step(weights, bias, step, a_in):
    """A pending SGD step on a layer: ``W -= outer(step, a_in)``, ``b -= step``."""
    for j in range(weights.shape[0]):
        w_row = weights[j]
        for i in range(a_in.size):
            w_row[i] -= step[j] * a_in[i]
        bias[j] -= step[j]


@kernel
def backprop_sgd_update(weights, bias, delta, a_in, lr, delta_in):
    """``delta_in = W.T @ delta`` fused with the SGD step ``W -= lr * outer(delta, a_in)``,
    ``b -= lr * delta``, in one pass over ``W``.

    Each weight is read for the back-propagated sum before it is updated, so ``delta_in`` uses
    the weights as they were before this sample's step. Rows go four at a time, adding to
    ``delta_in`` in row order as one row at a time would, so that it is loaded and stored once
    per four rows. The four are one two-dimensional view, not four row views: LLVM vectorises a
    loop only after checking at run time that the arrays it writes do not overlap the others,
    and four rows, ``delta_in`` and ``a_in`` needed more checks than it makes, so such a loop
    stayed one element at a time.
    """
    delta_in[:] = 0.0
    n_rows = weights.shape[0]
    n_blocked = n_rows - n_rows % 4
    for j in range(0, n_blocked, 4):
        _backprop_sgd_update_4_rows(weights[j : j + 4], bias[j : j + 4], delta[j : j + 4], a_in,
                                    lr, delta_in)
    for j in range(n_blocked, n_rows):
        d = delta[j]
        step = lr * d
        w_row = weights[j]
        for i in range(a_in.size):
            delta_in[i] += w_row[i] * d
            w_row[i] -= step * a_in[i]
        bias[j] -= step


@kernel(inline="always")
def _backprop_sgd_update_4_rows(block, bias, delta, a_in, lr, delta_in):
    """``backprop_sgd_update`` on the four rows of ``block``, adding to ``delta_in``."""
    d0, d1, d2, d3 = delta[0], delta[1], delta[2], delta[3]
    step0, step1, step2, step3 = lr * d0, lr * d1, lr * d2, lr * d3
    for i in range(a_in.size):
        w0, w1, w2, w3 = block[0, i], block[1, i], block[2, i], block[3, i]
        delta_in[i] = (((delta_in[i] + w0 * d0) + w1 * d1) + w2 * d2) + w3 * d3
        a_i = a_in[i]
        block[0, i] = w0 - step0 * a_i
        block[1, i] = w1 - step1 * a_i
        block[2, i] = w2 - step2 * a_i
        block[3, i] = w3 - step3 * a_i
    bias[0] -= step0
    bias[1] -= step1
    bias[2] -= step2
    bias[3] -= step3


@kernel
def sgd_update_affine(weights, bias, step_prev, x_prev, x, out):
    """``apply_step(W, b, step_prev, x_prev)``, then ``out = W @ x + b``, in one pass.

    The first (largest) weight matrix dominates per-sample SGD: applying the previous sample's
    step (``lr`` times its delta) while computing this sample's product loads and stores each
    weight once per sample instead of twice, with the same arithmetic as the two separate
    steps. Rows go four at a time so each loaded input value serves four rows.
    """
    n_rows = weights.shape[0]
    n_blocked = n_rows - n_rows % 4
    for j in range(0, n_blocked, 4):
        _sgd_update_affine_4_rows(weights[j : j + 4], bias[j : j + 4], step_prev[j : j + 4],
                                  x_prev, x, out[j : j + 4])
    for j in range(n_blocked, n_rows):
        step = step_prev[j]
        bias[j] -= step
        w_row = weights[j]
        total = bias[j]
        for i in range(x.size):
            w = w_row[i] - step * x_prev[i]
            w_row[i] = w
            total += w * x[i]
        out[j] = total


@kernel(inline="always")
def _sgd_update_affine_4_rows(block, bias, step_prev, x_prev, x, out):
    """``sgd_update_affine`` on the four rows of ``block``, inlined and given as one view as
    ``forward._affine_8_rows`` is."""
    step0, step1, step2, step3 = step_prev[0], step_prev[1], step_prev[2], step_prev[3]
    bias[0] -= step0
    bias[1] -= step1
    bias[2] -= step2
    bias[3] -= step3
    total0, total1, total2, total3 = bias[0], bias[1], bias[2], bias[3]
    for i in range(x.size):
        x_i, x_prev_i = x[i], x_prev[i]
        w = block[0, i] - step0 * x_prev_i
        block[0, i] = w
        total0 += w * x_i
        w = block[1, i] - step1 * x_prev_i
        block[1, i] = w
        total1 += w * x_i
        w = block[2, i] - step2 * x_prev_i
        block[2, i] = w
        total2 += w * x_i
        w = block[3, i] - step3 * x_prev_i
        block[3, i] = w
        total3 += w * x_i
    out[0], out[1], out[2], out[3] = total0, total1, total2, total3
