"""Software prefetch: asking the CPU to bring a row of an array into its caches before a
kernel reads it.

Per-sample training visits the rows of ``X`` in a random order, so the next sample's row is
far from any address read before: the hardware prefetchers, which follow addresses that
advance steadily, cannot guess it, and its first reads wait on main memory. Its index is
known a whole step ahead, though, and a step takes longer than memory takes to answer.

A prefetch is a hint: it never faults, changes no value and does not wait for the memory it
asks for. Numba has none of its own: ``prefetch_row`` compiles to LLVM's ``llvm.prefetch``
intrinsic (``prefetcht0`` on x86) on each line's address, which costs no array view (whose
reference counting would cost more than the prefetches). Run as plain Python
(``NUMBA_DISABLE_JIT=1``) it does nothing.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

CACHE_LINE_BYTES = 64
_READ, _KEEP_IN_EVERY_CACHE, _DATA = 0, 3, 1  # llvm.prefetch's rw, locality and cache type


def prefetch_row(array, row):
    """Ask for every cache line of ``array[row]``, a row of a 2-D array, to be brought into
    the caches (for a C-ordered array, whose rows are contiguous; of another order, some of
    the row's lines)."""


@overload(prefetch_row, inline="always")
def _prefetch_row_compiled(array, row):
    if not (isinstance(array, types.Array) and array.ndim == 2):
        return None
    step = max(1, CACHE_LINE_BYTES * 8 // array.dtype.bitwidth)

    def prefetch_every_line(array, row):
        # Elements 0, step, 2 * step, ... and the last: every line of the row, whichever
        # line its first element starts in.
        n_columns = array.shape[1]
        for column in range(0, n_columns, step):
            _prefetch_element(array, row, column)
        if n_columns > 0:
            _prefetch_element(array, row, n_columns - 1)

    return prefetch_every_line


@intrinsic
def _prefetch_element(typingctx, array, row, column):
    """``llvm.prefetch`` (for reading, into every cache level) of ``array[row, column]``'s
    address, which must be within bounds."""
    if not (isinstance(row, types.Integer) and isinstance(column, types.Integer)):
        return None

    def codegen(context, builder, signature, arguments):
        array_type, row_type, column_type = signature.args
        indices = [context.cast(builder, arguments[1], row_type, types.intp),
                   context.cast(builder, arguments[2], column_type, types.intp)]
        address = cgutils.get_item_pointer(
            context, builder, array_type,
            context.make_array(array_type)(context, builder, arguments[0]), indices)
        byte_pointer, int32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        llvm_prefetch = builder.module.declare_intrinsic(
            "llvm.prefetch", fnty=ir.FunctionType(ir.VoidType(), [byte_pointer] + [int32] * 3))
        flags = [ir.Constant(int32, flag) for flag in (_READ, _KEEP_IN_EVERY_CACHE, _DATA)]
        builder.call(llvm_prefetch, [builder.bitcast(address, byte_pointer)] + flags)
        return context.get_dummy_value()

    return types.void(array, row, column), codegen
