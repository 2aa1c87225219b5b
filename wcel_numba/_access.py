"""Typing functions of the element-access helpers that the CPU loops and the
CUDA kernels share.  Each target registers them with its own ``overload``
(``cpu.py`` for the CPU, ``_cuda_target.py`` with ``target="cuda"``); the
implementations they choose are plain indexing, valid on both."""

from numba.core import types


def item_implementation(a, i):
    """item(a, i): a[i] for an array, a itself for a scalar."""
    if isinstance(a, types.Array):
        return lambda a, i: a[i]
    return lambda a, i: a


def put_implementation(out, i, value):
    """put(out, i, value): out[i] = value, or nothing when out is None."""
    if isinstance(out, types.NoneType):
        return lambda out, i, value: None

    def store(out, i, value):
        out[i] = value
    return store
