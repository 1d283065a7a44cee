"""Ordered loads and stores of int64 flags, for threads that wait on each other inside kernels.

A kernel that spins until another thread's flag changes needs each read of the flag to reach
memory: LLVM may keep a plain load in a register for the whole loop, since nothing in the loop
writes it. ``load_acquire`` and ``store_release`` are LLVM's atomic load and store with
acquire and release ordering, so every write a thread made before releasing its flag is seen by
the thread that acquires it. Run as plain Python (``NUMBA_DISABLE_JIT=1``) they are plain
indexing, which the interpreter never caches.
"""

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload


def load_acquire(flags, index):
    """``flags[index]`` (an int64 array), read with acquire ordering."""
    return flags[index]


def store_release(flags, index, value):
    """``flags[index] = value`` (an int64 array), written with release ordering."""
    flags[index] = value


def _flag_pointer(context, builder, signature, args):
    array_type, array, index = signature.args[0], args[0], args[1]
    array = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, array, [index],
                                    wraparound=False)


def _is_flag_array(flags, index):
    return (isinstance(flags, types.Array) and flags.dtype == types.int64 and flags.ndim == 1
            and isinstance(index, types.Integer))


@intrinsic
def _load_acquire(typingctx, flags, index):
    if not _is_flag_array(flags, index):
        return None

    def codegen(context, builder, signature, args):
        return builder.load_atomic(_flag_pointer(context, builder, signature, args), "acquire",
                                   8)

    return types.int64(flags, index), codegen


@intrinsic
def _store_release(typingctx, flags, index, value):
    if not (_is_flag_array(flags, index) and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        value = context.cast(builder, args[2], signature.args[2], types.int64)
        builder.store_atomic(value, _flag_pointer(context, builder, signature, args), "release",
                             8)
        return context.get_dummy_value()

    return types.void(flags, index, value), codegen


@overload(load_acquire)
def _load_acquire_compiled(flags, index):
    if _is_flag_array(flags, index):
        return lambda flags, index: _load_acquire(flags, index)
    return None


@overload(store_release)
def _store_release_compiled(flags, index, value):
    if _is_flag_array(flags, index):
        return lambda flags, index, value: _store_release(flags, index, value)
    return None
