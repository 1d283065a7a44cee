"""``exp`` of non-positive numbers in plain arithmetic, so that loops calling it vectorise.

``math.exp`` compiles to a call into the C library, one element at a time; LLVM cannot
vectorise a loop around it without a vector maths library, which Numba's PyPI builds lack.
Every exponential fastnn needs has an argument of at most zero (sigmoid takes ``exp(-|x|)``,
softmax and log-sum-exp ``exp(z - max(z))``), so no overflow handling is needed: the
argument is split as ``n ln 2 + r`` with ``|r| <= ln(2) / 2``, ``exp(r)`` comes from Cephes'
rational approximation (relative error about 1e-16), and ``2**n`` is built from its bits.
Arguments below -708 (results under 3.3e-308, near the smallest normal float64) give zero.

``2**n`` takes no float-to-integer conversion, which x86 has in vector form only with AVX-512
(LLVM converts one element at a time on AVX2, and every sigmoid loop paid for it): adding
``1.5 * 2**52`` to the whole number ``n + 1023`` leaves it in the low bits of the sum's
mantissa, and shifting the sum's bits left by 52 moves them into the exponent field and the
rest out.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from ..config import exact_kernel

LOG2_E = 1.4426950408889634
# ln 2 split in two: n * LN2_HIGH is exact for |n| < 2**11, so r keeps its low bits.
LN2_HIGH = 6.93145751953125e-1
LN2_LOW = 1.42860682030941723212e-6
# Cephes exp: exp(r) = 1 + 2 r P(r²) / (Q(r²) - r P(r²)).
P0, P1, P2 = 1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1
Q0, Q1 = 3.00198505138664455042e-6, 2.52448340349684104192e-3
Q2, Q3 = 2.27265548208155028766e-1, 2.00000000000000000009e0
# Below this, 2**n would not be a normal float64.
SMALLEST_ARGUMENT = -708.0
EXPONENT_BIAS, MANTISSA_BITS = 1023, 52
ALL_BITS = 2**64 - 1  # Python's integers do not wrap at 64 bits as int64 does
# A whole number k below 2**51 added to this lands, exactly, in the sum's low mantissa bits.
ROUNDING_MAGIC = 1.5 * 2.0**52


def float64_from_bits(bits):
    """The float64 whose IEEE 754 bit pattern is the int64 ``bits``.

    This body runs where kernels run as plain Python (``NUMBA_DISABLE_JIT=1``); compiled
    kernels get the single instruction of ``_bitcast_to_float64`` instead (see the overload).
    """
    return float(np.array(bits & ALL_BITS, dtype=np.uint64).view(np.float64))


def bits_of_float64(value):
    """The int64 bit pattern of the float64 ``value``; the inverse of ``float64_from_bits``
    (plain Python here, one bitcast when compiled)."""
    return int(np.array(value, dtype=np.float64).view(np.int64))


def _bitcast(source, target, llvm_target):
    """An intrinsic reinterpreting a ``source`` value's bits as a ``target`` value."""

    @intrinsic
    def bitcast(typingctx, value):
        if value != source:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], llvm_target)

        return target(source), codegen

    return bitcast


_bitcast_to_float64 = _bitcast(types.int64, types.float64, ir.DoubleType())
_bitcast_to_int64 = _bitcast(types.float64, types.int64, ir.IntType(64))


@overload(float64_from_bits)
def _float64_from_bits_compiled(bits):
    if bits == types.int64:
        return lambda bits: _bitcast_to_float64(bits)
    return None


@overload(bits_of_float64)
def _bits_of_float64_compiled(value):
    if value == types.float64:
        return lambda value: _bitcast_to_int64(value)
    return None


@exact_kernel
def exp_nonpositive(x):
    """``exp(x)`` for ``x <= 0`` (and NaN), as a float64, to within about 1e-16 relative.

    Arguments below -708 give 0 (the exact value is under 3.3e-308); NaN gives NaN.
    """
    clamped = float(x) if x > SMALLEST_ARGUMENT else SMALLEST_ARGUMENT  # NaN too
    n = np.floor(clamped * LOG2_E + 0.5)  # a float: math.floor would convert it to int64
    r = (clamped - n * LN2_HIGH) - n * LN2_LOW
    r2 = r * r
    p = r * ((P0 * r2 + P1) * r2 + P2)
    q = ((Q0 * r2 + Q1) * r2 + Q2) * r2 + Q3
    scale = float64_from_bits(bits_of_float64(n + (EXPONENT_BIAS + ROUNDING_MAGIC))
                              << MANTISSA_BITS)
    value = (1.0 + 2.0 * p / (q - p)) * scale
    if x >= SMALLEST_ARGUMENT:
        return value
    return 0.0 if x < SMALLEST_ARGUMENT else x
