"""fastnn's kernels ask LLVM for 512-bit vectors, where the CPU has them.

LLVM's tuning for Intel's AVX-512 server cores (Ice Lake server, Sapphire and Emerald Rapids)
includes ``prefer-256-bit``: its vectoriser keeps to 256-bit registers, which older cores
clocked down to run. fastnn's kernels that work on data already in the first-level cache (the
layers above the first, the activations, the backward pass) are limited by how many stores
the core retires, and a 512-bit store moves twice the bytes of a 256-bit one; per-sample
epochs took 5-12% less time with 512-bit vectors on this project's Intel machines (see the
README's "Speed").

Numba compiles every function of a process for one set of CPU features (``NUMBA_CPU_FEATURES``
sets them), but LLVM also reads a vector width from each function's own
``"prefer-vector-width"`` attribute, and lets it override the CPU's tuning. ``VectorCompiler``
is Numba's compiler with that attribute set on every function it lowers; fastnn's kernels are
compiled with it (``config.kernel``), so they get 512-bit vectors without changing how the
rest of the process compiles. On a CPU without AVX-512 the attribute changes nothing: no
vector is wider than the registers.
"""

from numba.core import lowering
from numba.core.compiler import Compiler
from numba.core.compiler_machinery import register_pass
from numba.core.typed_passes import NativeLowering, NativeParforLowering
from numba.parfors.parfor_lowering import ParforLower

PREFERRED_BITS = 512
ATTRIBUTE = f'"prefer-vector-width"="{PREFERRED_BITS}"'


def prefer_wide_vectors(function):
    """Give the LLVM IR ``function`` (an ``llvmlite.ir.Function``) the ``ATTRIBUTE``.

    llvmlite's attribute set accepts only the attributes LLVM names by enumeration and writes
    each member into the IR as it is spelled; a string attribute such as this one goes in past
    that check (``set.add``), already spelled as the IR writes it.
    """
    set.add(function.attributes, ATTRIBUTE)


class PreferWideVectors:
    """Mixin for a Numba lowering class: marks each function it lowers with
    ``prefer_wide_vectors``."""

    def pre_lower(self):
        super().pre_lower()
        prefer_wide_vectors(self.builder.function)


def _preferring_wide_vectors(native_pass, lower_class):
    """A registered copy of Numba's lowering pass ``native_pass`` whose lowering class is
    ``lower_class`` with ``PreferWideVectors`` mixed in."""
    lower = type(f"WideVector{lower_class.__name__}", (PreferWideVectors, lower_class), {})
    wide_pass = type(f"WideVector{native_pass.__name__}", (native_pass,), {
        "_name": f"fastnn_wide_vector_{native_pass._name}",
        "lowering_class": property(lambda self: lower),
        "__doc__": f"Numba's ``{native_pass.__name__}``, preferring wide vectors.",
    })
    return register_pass(mutates_CFG=True, analysis_only=False)(wide_pass)


# Numba's two lowering passes (plain and ``parallel=True`` functions), each with its twin here.
_WIDE_VECTOR_PASSES = {
    NativeLowering: _preferring_wide_vectors(NativeLowering, lowering.Lower),
    NativeParforLowering: _preferring_wide_vectors(NativeParforLowering, ParforLower),
}


class VectorCompiler(Compiler):
    """Numba's default compiler, its lowering passes swapped for their wide-vector twins: the
    ``pipeline_class`` that ``config.kernel`` compiles with."""

    def define_pipelines(self):
        pipelines = super().define_pipelines()
        for pipeline in pipelines:
            pipeline.passes = [(_WIDE_VECTOR_PASSES.get(pass_class, pass_class), description)
                               for pass_class, description in pipeline.passes]
        return pipelines
