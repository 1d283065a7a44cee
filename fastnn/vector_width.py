"""The CPU features that let Numba's compiler use 512-bit vectors where the CPU has them.

LLVM's tuning for Intel's AVX-512 server cores (Ice Lake server, Sapphire and Emerald Rapids)
includes ``prefer-256-bit``: its vectoriser keeps to 256-bit registers, which older cores
clocked down to run. fastnn's kernels that work on data already in the first-level cache (the
layers above the first, the activations, the backward pass) are limited by how many stores
the core retires, and a 512-bit store moves twice the bytes of a 256-bit one. On this
project's Emerald Rapids machine, per-sample epochs took 5-10% less time with 512-bit vectors
(see the README's "Speed").

Numba takes its CPU features once per process from ``NUMBA_CPU_FEATURES``, for every function
it compiles, so fastnn cannot choose them for its own kernels; this is the string to set it to,
before Python starts::

    export NUMBA_CPU_FEATURES="$(python -m fastnn.vector_width)"

It is the host's own features, with ``-prefer-256-bit`` added where the CPU has AVX-512 (and
nothing added elsewhere), so the machine code stays this CPU's. Numba's on-disk cache keys
its entries by the features, so code compiled either way is kept apart.
"""

from llvmlite import binding

PREFER_256_BIT = "prefer-256-bit"


def wide_vector_features(host_features=None):
    """Numba's ``NUMBA_CPU_FEATURES`` value for 512-bit vectors on this CPU: ``host_features``
    (LLVM's comma-separated ``+feature``/``-feature`` list, by default this host's) with
    ``-prefer-256-bit`` in place of any setting of it, where ``+avx512f`` is among them."""
    if host_features is None:
        host_features = binding.get_host_cpu_features().flatten()
    features = [feature for feature in host_features.split(",") if feature]
    if "+avx512f" not in features:
        return ",".join(features)
    kept = [feature for feature in features if feature[1:] != PREFER_256_BIT]
    return ",".join(kept + ["-" + PREFER_256_BIT])


def allows_512_bit_vectors(features):
    """True when ``features`` (a ``NUMBA_CPU_FEATURES`` value; None for the host's own, with
    LLVM's tuning for this CPU) has AVX-512 and turns the 256-bit preference off."""
    listed = [] if features is None else features.split(",")
    return "+avx512f" in listed and "-" + PREFER_256_BIT in listed


if __name__ == "__main__":
    print(wide_vector_features())
