"""The oracle's optimizers, sample weights and schedules (fastnn/naive.py): against torch.optim
where PyTorch is installed, and against identities that need nothing but NumPy."""

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from fastnn import Network, naive

SIZES = [13, 10, 7, 3]
ACTIVATIONS = ["sigmoid", "sigmoid", "softmax"]  # with the cross-entropy loss
N = 100  # with batches of 16, the last batch of each epoch holds 4 rows
EPOCHS = 2


@pytest.fixture
def torch():
    return pytest.importorskip(
        "torch", reason="PyTorch is not installed: the comparison with torch.optim needs it "
                        "(pip install fastnn-numba[peers])")


def network(seed=0, sizes=SIZES):
    """Seeded float64 weights and biases, as the oracle's lists of arrays."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(scale=0.5, size=(n_out, n_in))
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(scale=0.1, size=n_out) for n_out in sizes[1:]]
    return weights, biases


def classification_data(seed=1, n=N):
    """Inputs, integer labels and one-hot targets for the [13, 10, 7, 3] network."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, SIZES[0]))
    y = rng.integers(0, SIZES[-1], n)
    return X, y, np.eye(SIZES[-1])[y]


def epoch_orders(seed=2, n=N, epochs=EPOCHS):
    """One fixed permutation of the rows per epoch."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(epochs)]


def max_difference(arrays, others):
    return max(np.abs(a - b).max() for a, b in zip(arrays, others))


def torch_train(torch, weights, biases, hidden, X, target, loss_fn, make_optimizer, batch_size,
                orders):
    """The same training in PyTorch: float64 leaf tensors, one optimizer step per batch."""
    Ws = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in weights]
    bs = [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in biases]
    optimizer = make_optimizer(Ws + bs)
    X, target = torch.tensor(X, dtype=torch.float64), torch.as_tensor(target)
    for order in orders:
        for start in range(0, len(order), batch_size):
            rows = torch.as_tensor(order[start:start + batch_size])
            a = X[rows]
            for W, b in zip(Ws[:-1], bs[:-1]):
                a = hidden(a @ W.T + b)
            optimizer.zero_grad()
            loss_fn(a @ Ws[-1].T + bs[-1], target[rows]).backward()
            optimizer.step()
    return [W.detach().numpy() for W in Ws], [b.detach().numpy() for b in bs]


OPTIMIZERS = {
    "sgd_momentum": (lambda: naive.SGD(momentum=0.9),
                     lambda torch, params: torch.optim.SGD(params, lr=0.05, momentum=0.9),
                     0.05),
    "sgd_nesterov": (lambda: naive.SGD(momentum=0.9, nesterov=True),
                     lambda torch, params: torch.optim.SGD(params, lr=0.05, momentum=0.9,
                                                           nesterov=True),
                     0.05),
    "adam": (lambda: naive.Adam(),
             lambda torch, params: torch.optim.Adam(params, lr=0.01),
             0.01),
    "adam_betas": (lambda: naive.Adam(beta_1=0.8, beta_2=0.99, epsilon=1e-6),
                   lambda torch, params: torch.optim.Adam(params, lr=0.01, betas=(0.8, 0.99),
                                                          eps=1e-6),
                   0.01),
}


@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_matches_torch_cross_entropy(torch, name, batch_size):
    make_naive, make_torch, lr = OPTIMIZERS[name]
    weights, biases = network()
    X, y, Y = classification_data()
    orders = epoch_orders()
    t_weights, t_biases = torch_train(
        torch, weights, biases, torch.sigmoid, X, y, torch.nn.functional.cross_entropy,
        lambda params: make_torch(torch, params), batch_size, orders)
    optimizer = make_naive()
    for order in orders:
        naive.train_epoch(weights, biases, ACTIVATIONS, "cross_entropy", X, Y, lr,
                          batch_size=batch_size, order=order, optimizer=optimizer)
    assert optimizer.steps == EPOCHS * -(-N // batch_size)
    diff = max_difference(weights + biases, t_weights + t_biases)
    print(f"\n{name}, batch {batch_size}: largest weight difference from torch {diff:.3g}")
    assert diff < 1e-10


def test_adam_matches_torch_squared_error(torch):
    weights, biases = network()
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(N, SIZES[0])), rng.normal(size=(N, SIZES[-1]))
    orders = epoch_orders()
    t_weights, t_biases = torch_train(
        torch, weights, biases, torch.tanh, X, Y,
        lambda out, target: 0.5 * ((out - target) ** 2).sum(axis=1).mean(),
        lambda params: torch.optim.Adam(params, lr=0.01), 16, orders)
    history = naive.train(weights, biases, ["tanh", "tanh", "identity"], "squared_error", X, Y,
                          0.01, EPOCHS, batch_size=16, orders=orders, optimizer=naive.Adam())
    assert history["lr"] == [0.01, 0.01]
    diff = max_difference(weights + biases, t_weights + t_biases)
    print(f"\nadam squared error, batch 16: largest weight difference from torch {diff:.3g}")
    assert diff < 1e-10


def test_per_sample_weights_two_and_zero_equal_the_kept_samples_at_twice_the_rate():
    """Factors 2, 0, 2, 0, ...: the dropped samples leave the weights alone and the kept ones
    step at twice the rate; the mean loss over all samples is the kept samples' mean."""
    X, _, Y = classification_data()
    order = epoch_orders(epochs=1)[0]
    weighted = network()
    loss = naive.train_epoch(*weighted, ACTIVATIONS, "cross_entropy", X, Y, 0.05, order=order,
                             sample_weight=np.tile([2.0, 0.0], N // 2))
    kept = order[order % 2 == 0]  # the kept rows, in the order the weighted epoch visits them
    plain = network()
    kept_loss = naive.train_epoch(*plain, ACTIVATIONS, "cross_entropy", X[kept], Y[kept], 0.1)
    assert max_difference(weighted[0] + weighted[1], plain[0] + plain[1]) < 1e-12
    assert loss == pytest.approx(kept_loss, rel=1e-12)


@pytest.mark.parametrize("make_optimizer", [lambda: None, naive.Adam], ids=["sgd", "adam"])
def test_full_batch_integer_weights_equal_repeated_rows(make_optimizer):
    X, _, Y = classification_data()
    counts = np.random.default_rng(4).integers(0, 4, N)
    repeated = np.repeat(np.arange(N), counts)
    weighted, plain = network(), network()
    weighted_opt, plain_opt = make_optimizer(), make_optimizer()
    for _ in range(EPOCHS):
        loss = naive.train_epoch(*weighted, ACTIVATIONS, "cross_entropy", X, Y, 0.05,
                                 batch_size=N, sample_weight=counts, optimizer=weighted_opt)
        repeated_loss = naive.train_epoch(*plain, ACTIVATIONS, "cross_entropy", X[repeated],
                                          Y[repeated], 0.05, batch_size=len(repeated),
                                          optimizer=plain_opt)
        assert loss == pytest.approx(repeated_loss, rel=1e-12)
    assert max_difference(weighted[0] + weighted[1], plain[0] + plain[1]) < 1e-12


def test_sgd_object_without_momentum_equals_the_plain_per_sample_path():
    X, _, Y = classification_data()
    order = epoch_orders(epochs=1)[0]
    stepped, plain = network(), network()
    loss = naive.train_epoch(*stepped, ACTIVATIONS, "cross_entropy", X, Y, 0.05, order=order,
                             l1=1e-4, l2=1e-3, optimizer=naive.SGD())
    plain_loss = naive.train_epoch(*plain, ACTIVATIONS, "cross_entropy", X, Y, 0.05,
                                   order=order, l1=1e-4, l2=1e-3)
    assert max_difference(stepped[0] + stepped[1], plain[0] + plain[1]) < 1e-12
    assert loss == pytest.approx(plain_loss, rel=1e-12)


def test_optimizer_state_carries_across_epochs():
    """Two calls with one Adam object are one two-epoch `train` run."""
    X, _, Y = classification_data()
    orders = epoch_orders()
    by_epoch, by_train = network(), network()
    adam = naive.Adam()
    losses = [naive.train_epoch(*by_epoch, ACTIVATIONS, "cross_entropy", X, Y, 0.01,
                                batch_size=16, order=order, optimizer=adam) for order in orders]
    history = naive.train(*by_train, ACTIVATIONS, "cross_entropy", X, Y, 0.01, EPOCHS,
                          batch_size=16, orders=orders, optimizer=naive.Adam())
    assert adam.steps == 2 * 7
    assert history["loss"] == losses
    assert max_difference(by_epoch[0] + by_epoch[1], by_train[0] + by_train[1]) == 0.0


def test_invscaling_is_scikit_learns_rate():
    assert naive.invscaling(0.1, 0.5, 0) == 0.1
    assert naive.invscaling(0.1, 0.5, 99) == pytest.approx(0.01, rel=1e-15)
    X, _, Y = classification_data(n=20)
    history = naive.train(*network(), ACTIVATIONS, "cross_entropy", X, Y, 0.1, 3,
                          lr_schedule="invscaling", power_t=0.25)
    assert history["lr"] == [0.1, 0.1 / 21 ** 0.25, 0.1 / 41 ** 0.25]


def test_balanced_class_weights_match_scikit_learn():
    y = np.random.default_rng(5).choice([0, 2, 3], size=50, p=[0.6, 0.3, 0.1])
    classes = np.unique(y)
    expected = compute_class_weight("balanced", classes=classes, y=y)
    np.testing.assert_allclose(naive.class_sample_weights(y, "balanced"),
                               expected[np.searchsorted(classes, y)], rtol=1e-15)


def test_class_weight_dict_defaults_to_one():
    weights = naive.class_sample_weights(np.array([0, 1, 2, 1]), {1: 3.0, 2: 0.5})
    assert weights.dtype == np.float64
    np.testing.assert_array_equal(weights, [1.0, 3.0, 0.5, 3.0])


def test_callable_schedule_compounds():
    X, _, Y = classification_data(n=20)
    history = naive.train(*network(), ACTIVATIONS, "cross_entropy", X, Y, 0.1, 3,
                          lr_schedule=lambda epoch, rate: rate * 0.5)
    assert history["lr"] == [0.05, 0.025, 0.0125]  # called before every epoch, as in Keras
    assert len(history["loss"]) == 3


# Network settings for each of OPTIMIZERS.
NETWORK_SETTINGS = {"sgd_momentum": dict(momentum=0.9),
                    "sgd_nesterov": dict(momentum=0.9, nesterov=True),
                    "adam": dict(optimizer="adam"),
                    "adam_betas": dict(optimizer="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-6)}


@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_fastnn_matches_torch(torch, name, batch_size):
    """fastnn's compiled steps themselves against torch.optim, each epoch's order given."""
    _, make_torch, lr = OPTIMIZERS[name]
    X, y, _ = classification_data()
    orders = epoch_orders()
    net = Network(SIZES, activation="sigmoid", lr=lr, epochs=1, batch_size=batch_size,
                  shuffle=False, **NETWORK_SETTINGS[name])
    weights, biases = network()
    for ours, theirs in zip(list(net.weights) + list(net.biases), weights + biases):
        ours[...] = theirs
    t_weights, t_biases = torch_train(
        torch, weights, biases, torch.sigmoid, X, y, torch.nn.functional.cross_entropy,
        lambda params: make_torch(torch, params), batch_size, orders)
    for order in orders:
        net.fit(X[order], y[order])
    diff = max_difference(list(net.weights) + list(net.biases), t_weights + t_biases)
    print(f"\nfastnn {name}, batch {batch_size}: largest weight difference from torch {diff:.3g}")
    assert diff < 1e-10
