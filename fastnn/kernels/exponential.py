"""``exp`` of non-positive numbers in plain arithmetic, so that loops calling it vectorise.

``math.exp`` compiles to a call into the C library, one element at a time; LLVM cannot
vectorise a loop around it without a vector maths library, which Numba's PyPI builds lack.
Every exponential fastnn needs has an argument of at most zero (sigmoid takes ``exp(-|x|)``,
softmax and log-sum-exp ``exp(z - max(z))``), so no overflow handling is needed: the
argument is split as ``n ln 2 + r`` with ``|r| <= ln(2) / 2``, ``exp(r)`` comes from a Cephes
approximation, and ``2**n`` is built from its bits.

A float32 argument is computed in float32 (Cephes' ``expf`` polynomial, within about 1.3
units of float32's last place), so that a float32 network's sigmoids fill eight lanes of a
256-bit vector, not four, and need no conversions; any other argument in float64 (Cephes'
rational ``exp``, relative error about 1e-16). Results below the smallest normal number of
their precision (arguments below -708, or -87.3 in float32) are flushed to zero.

``2**n`` takes no float-to-integer conversion, which x86 has in vector form only with AVX-512
(LLVM converts one element at a time on AVX2, and every sigmoid loop paid for it): adding
``1.5 * 2**52`` (``1.5 * 2**23`` in float32) to the whole number ``n`` plus the exponent bias
leaves it in the low bits of the sum's mantissa, and shifting the sum's bits left by the
mantissa's width moves them into the exponent field and the rest out.
"""

import numba
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
# A whole number k below 2**51 added to this lands, exactly, in the sum's low mantissa bits.
ROUNDING_MAGIC = 1.5 * 2.0**52

# The same for float32, with Cephes expf's constants: exp(r) = 1 + r + r² F(r).
F32 = np.float32
LOG2_E_32 = F32(LOG2_E)
LN2_HIGH_32, LN2_LOW_32 = F32(0.693359375), F32(-2.12194440e-4)
F0, F1, F2 = F32(1.9875691500e-4), F32(1.3981999507e-3), F32(8.3334519073e-3)
F3, F4, F5 = F32(4.1665795894e-2), F32(1.6666665459e-1), F32(5.0000001201e-1)
SMALLEST_ARGUMENT_32 = F32(-87.33654)
MANTISSA_BITS_32 = 23
EXPONENT_MAGIC_32 = F32(127 + 1.5 * 2.0**23)  # the bias and the rounding magic in one float32
HALF_32, ONE_32, ZERO_32 = F32(0.5), F32(1.0), F32(0.0)


def _bit_views(float_dtype, int_dtype, uint_dtype):
    """``(from_bits, bits_of)`` for the float type ``float_dtype``: ``from_bits(bits)`` is the
    float whose IEEE 754 bit pattern is the low bits of the int64 ``bits``; ``bits_of(value)``
    is the bit pattern of ``value``, as an ``int_dtype`` widened to int64.

    Their bodies run where kernels run as plain Python (``NUMBA_DISABLE_JIT=1``), where
    Python's integers do not wrap as int64 does: ``from_bits`` keeps the low bits itself.
    Compiled kernels get one or two LLVM instructions instead (the overloads).
    """
    width = np.dtype(float_dtype).itemsize * 8
    numba_float = numba.from_dtype(float_dtype)
    llvm_float, llvm_int = (ir.DoubleType() if width == 64 else ir.FloatType()), ir.IntType(width)

    def from_bits(bits):
        return float_dtype(np.array(bits & (2**width - 1), dtype=uint_dtype).view(float_dtype))

    def bits_of(value):
        return int(np.array(value, dtype=float_dtype).view(int_dtype))

    @intrinsic
    def to_float(typingctx, bits):
        def codegen(context, builder, signature, args):
            low = builder.trunc(args[0], llvm_int) if width < 64 else args[0]
            return builder.bitcast(low, llvm_float)

        return (numba_float(types.int64), codegen) if bits == types.int64 else None

    @intrinsic
    def to_bits(typingctx, value):
        def codegen(context, builder, signature, args):
            bits = builder.bitcast(args[0], llvm_int)
            return builder.sext(bits, ir.IntType(64)) if width < 64 else bits

        return (types.int64(numba_float), codegen) if value == numba_float else None

    overload(from_bits)(lambda bits: (lambda bits: to_float(bits)) if bits == types.int64 else None)
    overload(bits_of)(
        lambda value: (lambda value: to_bits(value)) if value == numba_float else None)
    return from_bits, bits_of


float64_from_bits, bits_of_float64 = _bit_views(np.float64, np.int64, np.uint64)
float32_from_bits, bits_of_float32 = _bit_views(np.float32, np.int32, np.uint32)


def exp_nonpositive(x):
    """``exp(x)`` for ``x <= 0`` (and NaN), in float32 arithmetic for a float32 ``x``, else in
    float64 (``exp_nonpositive_float32`` or ``exp_nonpositive_float64``).

    This body picks one by type where kernels run as plain Python; compiled kernels pick it
    when they are typed (the overload).
    """
    if isinstance(x, np.float32):
        return exp_nonpositive_float32(x)
    return exp_nonpositive_float64(x)


@overload(exp_nonpositive)
def _exp_nonpositive_compiled(x):
    if x == types.float32:
        return lambda x: exp_nonpositive_float32(x)
    return lambda x: exp_nonpositive_float64(x)


@exact_kernel
def exp_nonpositive_float64(x):
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


@exact_kernel
def exp_nonpositive_float32(x):
    """``exp(x)`` for a float32 ``x <= 0`` (and NaN), as a float32, within about 1.3 units in
    float32's last place.

    Arguments below -87.33654 give 0 (the exact value is under 1.2e-38); NaN gives NaN.
    """
    clamped = x if x > SMALLEST_ARGUMENT_32 else SMALLEST_ARGUMENT_32  # NaN too
    n = np.floor(clamped * LOG2_E_32 + HALF_32)
    r = (clamped - n * LN2_HIGH_32) - n * LN2_LOW_32
    f = ((((F0 * r + F1) * r + F2) * r + F3) * r + F4) * r + F5
    scale = float32_from_bits(bits_of_float32(n + EXPONENT_MAGIC_32)
                              << MANTISSA_BITS_32)
    value = (f * (r * r) + r + ONE_32) * scale
    if x >= SMALLEST_ARGUMENT_32:
        return value
    return ZERO_32 if x < SMALLEST_ARGUMENT_32 else x
