"""fastnn's compiled kernels: plain functions of arrays and scalars, no Python objects.

One module per kind of formula; this index names the function that computes each one.
"""

# Activations and losses (their integer codes and name maps sit beside them).
from .activations import activate  # a = f(z) over one layer's units, by activation code
from .activations import sigmoid  # 1 / (1 + exp(-x)), without overflow
from .activations import softmax  # exp(z) / sum(exp(z)), shifted by max(z)
from .activations import log_sum_exp  # log(sum(exp(z))), shifted by max(z)
from .activations import scale_by_derivative  # delta *= f'(z), from a = f(z)
from .exponential import exp_nonpositive  # exp(x) for x <= 0, in vectorisable arithmetic
from .losses import softplus  # log(1 + exp(x)), without overflow
from .losses import loss_and_delta  # one sample's loss and dloss/dz at the output
from .checks import is_finite  # neither infinite nor NaN
from .checks import all_finite  # no infinity or NaN in a vector

# Forward passes.
from .forward import affine  # W @ x + b for one sample
from .forward import affine_rows  # X @ W.T + b for a batch, by BLAS
from .forward import forward_layers  # one sample through the layers
from .forward import forward_rows  # a batch through the layers
from .forward import predict_rows  # output activations of any number of rows, in blocks
from .forward import loss_rows  # summed loss and outputs of any number of rows, in blocks

# Gradients.
from .gradients import block_gradient  # gradient of the summed loss over one block of rows
from .gradients import batch_gradient  # mean gradient of a batch, from parts added in order
from .gradients import loss_and_gradient  # summed loss and mean gradient of all rows, one thread
from .gradients import loss_and_gradient_threaded  # the same, its parts on Numba's threads

# Optimizer steps and penalties.
from .optimizers import optimizer_step  # one step of SGD, momentum, Nesterov or Adam
from .optimizers import backprop_update  # per sample: back-propagate through a layer, step it
from .optimizers import update_affine  # per sample: first layer's step fused with next product
from .optimizers import squared_weights  # sum of the squared weights (scikit-learn's penalty)
from .steps import apply_step  # W -= outer(step, a_in), b -= step
from .steps import backprop_sgd_update  # the same for plain SGD
from .steps import sgd_update_affine  # the same for plain SGD
from .sparse_inputs import sgd_update_affine_sparse  # the same, skipping zero inputs

# Epoch loops.
from .epochs import sample_loss  # one sample forwarded from its first layer's product, its loss
from .epochs import train_per_sample  # per-sample plain SGD over X[order]
from .epochs import train_per_sample_part  # one of two threads' share of it, on two cores
from .epochs import train_per_sample_optimizer  # per-sample steps of any optimizer
from .epochs import train_minibatch  # mini-batch steps of any optimizer, one thread
from .epochs import train_minibatch_threaded  # the same, each batch's parts on Numba's threads

__all__ = [
    "activate", "affine", "affine_rows", "all_finite", "apply_step", "backprop_sgd_update",
    "backprop_update", "batch_gradient", "block_gradient", "exp_nonpositive", "forward_layers",
    "forward_rows", "is_finite", "log_sum_exp", "loss_and_delta", "loss_and_gradient",
    "loss_and_gradient_threaded", "loss_rows", "optimizer_step", "predict_rows", "sample_loss",
    "scale_by_derivative", "sgd_update_affine", "sgd_update_affine_sparse", "sigmoid", "softmax",
    "softplus", "squared_weights", "train_minibatch", "train_minibatch_threaded",
    "train_per_sample", "train_per_sample_optimizer", "train_per_sample_part", "update_affine",
]
