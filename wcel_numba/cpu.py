"""The CPU target.

Public: ``loss``, ``grad``, ``grad_labels``, ``hessian`` -- NumPy ufuncs made by
``numba.vectorize`` with float32 and float64 loops, called as
``ufunc(labels, logits, pos_weight)``.  They broadcast like any ufunc; every
loop computes in float64 and rounds once to the output type.

Internal: the loop the dispatcher prefers when the layout allows it.  Numba's
ufunc loop only vectorizes when every operand is unit-strided, so a scalar
``pos_weight`` (stride 0) would send it to a slow strided loop, and it writes a
strided ``out=`` wrongly when the inputs are contiguous.  ``get_loop`` gives a
block loop over a contiguous output whose inputs are contiguous arrays of the
output's size, scalars (passed as arguments), or small tiles of a per-class
vector (see ``_block_loop``), compiled serial and parallel from the same
scalar functions; it refuses an ``out`` that overlaps an input.  Also the
reduction loop (``get_reduce_loop``) and ``map_pages``, which has the kernel
map a large new output's pages before a loop writes it.
"""

import ctypes
import errno
import mmap
import sys
import types as types_module

import numba
from numba import prange, types
from numba.extending import intrinsic, overload

from . import _cpumath
from ._access import item_implementation, put_implementation
from ._scalar import ELEMENTWISE, build_scalar_functions, plain_arithmetic

SIGNATURES = [
    "float32(float32, float32, float32)",
    "float64(float64, float64, float64)",
]

_inline = numba.njit(inline="always", error_model="numpy")

#: The scalar functions for float64 results ...
scalar = build_scalar_functions(_inline, plain_arithmetic(
    _inline, numba.float64, _cpumath.exp_scaled, _cpumath.log1p_scaled, _cpumath.SCALE,
    _cpumath.fma))
#: ... and for float32 results: the same definitions with primitives that are
#: exact to 2**-24.8 instead of 2**-53, unscaled (still computed in float64,
#: rounded once).
scalar_single = build_scalar_functions(_inline, plain_arithmetic(
    _inline, numba.float64, _cpumath.exp_single, _cpumath.log1p_single, 1.0, _cpumath.fma))


def _by_result_type(name):
    """A jitted function ``f(witness, labels, logits, pos_weight)`` that runs
    ``name`` with the float32-result primitives when ``witness`` (an output
    array, a pair of them, or a scalar of the result type) is float32."""
    fn64, fn32 = getattr(scalar, name), getattr(scalar_single, name)

    def typed(witness, labels, logits, pos_weight):
        """Stub: implemented by the overload below."""

    @overload(typed, inline="always")
    def _typed(witness, labels, logits, pos_weight):
        kind = witness[0] if isinstance(witness, types.BaseTuple) else witness
        kind = kind.dtype if isinstance(kind, types.Array) else kind
        fn = fn32 if kind == types.float32 else fn64
        return lambda witness, labels, logits, pos_weight: fn(labels, logits, pos_weight)

    typed.__name__ = typed.__qualname__ = f"{name}_by_result_type"
    return typed


_typed = {name: _by_result_type(name) for name in ELEMENTWISE + ("loss_and_grad",)}


def _specialize(template, fn, qualname):
    """A copy of ``template`` whose global ``fn`` is the scalar function ``fn``.

    Numba's on-disk cache names its files after ``__qualname__`` and keys them
    on the bytecode and closure; copies with distinct names and no closure
    therefore cache separately and reproducibly across processes (a closure
    over a dispatcher would not: its pickle holds a per-process id).
    """
    copy = types_module.FunctionType(template.__code__, {**template.__globals__, "fn": fn},
                                     qualname, template.__defaults__)
    copy.__qualname__ = qualname
    copy.__doc__ = template.__doc__
    return copy


def _ufunc_template(labels, logits, pos_weight):
    # the float32 loop (float32 logits) gets the float32-result primitives
    return fn(logits, labels, logits, pos_weight)  # noqa: F821 -- set by _specialize


def _make_ufunc(name):
    kernel = _specialize(_ufunc_template, _typed[name], name)
    kernel.__doc__ = (f"{name}(labels, logits, pos_weight): elementwise weighted "
                      f"sigmoid cross-entropy {name}, as a NumPy ufunc.")
    return numba.vectorize(SIGNATURES, cache=True)(kernel)


_ufuncs = {}


def __getattr__(attr):
    """``loss``, ``grad``, ``grad_labels``, ``hessian``: the ufuncs, made (or
    loaded from the cache) on first access, which keeps ``import`` fast."""
    if attr in ELEMENTWISE:
        if attr not in _ufuncs:
            _ufuncs[attr] = _make_ufunc(attr)
        return _ufuncs[attr]
    raise AttributeError(f"module 'wcel_numba.cpu' has no attribute {attr!r}")


def _item(a, i):
    """a[i] for a 1-D array, a itself for a scalar."""


overload(_item, inline="always")(item_implementation)


def _block_view(a, start, stop):
    """The part of an operand that block [start, stop) reads or writes:
    a[start:stop] for a 1-D array, the row of a tile (a (1, block) array),
    each of a pair of outputs, or a scalar itself."""


@overload(_block_view, inline="always")
def _block_view_overload(a, start, stop):
    if isinstance(a, types.Array) and a.ndim == 2:
        return lambda a, start, stop: a[0]
    if isinstance(a, types.Array):
        return lambda a, start, stop: a[start:stop]
    if isinstance(a, types.BaseTuple):
        return lambda a, start, stop: (a[0][start:stop], a[1][start:stop])
    return lambda a, start, stop: a


def _store(out, index, value):
    """out[index] = value, or each of a pair of outputs for a pair of values."""


@overload(_store, inline="always")
def _store_overload(out, index, value):
    if isinstance(out, types.Array):
        def store_one(out, index, value):
            out[index] = value
        return store_one

    def store_pair(out, index, value):
        out[0][index] = value[0]
        out[1][index] = value[1]
    return store_pair


@numba.njit(error_model="numpy")  # inlined by LLVM, not by Numba's IR inliner
def _extent(a):
    """(lowest byte address, highest + 1) that array ``a`` covers."""
    lowest = highest = a.ctypes.data
    for k in range(a.ndim):
        span = (a.shape[k] - 1) * a.strides[k]
        if span < 0:
            lowest += span
        else:
            highest += span
    return lowest, highest + a.itemsize


def _clobbers(out, a):
    """Whether writing ``out`` (an array or a pair of them) element by element
    could change ``a`` before the loop reads it: their memory intersects and
    they are not the very same elements (same start, shape, strides and item
    size -- computing in place is fine)."""


@overload(_clobbers)
def _clobbers_overload(out, a):
    if isinstance(out, types.BaseTuple):
        return lambda out, a: _clobbers(out[0], a) or _clobbers(out[1], a)
    if not isinstance(a, types.Array):
        return lambda out, a: False
    comparable = a.ndim == out.ndim

    def clobbers(out, a):
        if out.size == 0 or a.size == 0:
            return False
        out_low, out_high = _extent(out)
        a_low, a_high = _extent(a)
        if out_low >= a_high or a_low >= out_high:
            return False
        if comparable:
            return not (out_low == a_low and out.itemsize == a.itemsize
                        and out.shape == a.shape and out.strides == a.strides)
        return True

    return clobbers


@intrinsic
def _prefer_wide_vectors(typingctx):
    """Let LLVM vectorize the function that calls this with the widest
    registers (AVX-512 where there is AVX-512), and keep it out of its
    callers.

    LLVM tunes recent Intel CPUs to 256-bit vectors; the float32-result loops
    get 512-bit ones anyway (their float64 temporaries are twice as wide as
    the data), but the float64 loops would run 4 lanes instead of 8: 20-30%
    slower (measured in ``benchmarks/``).  The string attribute applies per
    function; ``noinline`` keeps it from being inlined into a caller that
    lacks it.  It emits no instruction.  Call it inside a ``prange`` body,
    which Numba compiles as a function of its own."""

    def codegen(context, builder, signature, args):
        attributes = builder.function.attributes
        # llvmlite's AttributeSet only knows enum attributes by name; a string
        # attribute is written out verbatim.
        set.add(attributes, '"prefer-vector-width"="512"')
        if "alwaysinline" not in attributes:
            attributes.add("noinline")
        return context.get_dummy_value()

    return types.none(), codegen


def _block_loop(labels, logits, pos_weight, out, size, block):
    """out[i] = fn(...) for i < size, in blocks of ``block`` elements.

    Each input is a 1-D array of ``size`` elements, a scalar, or a tile: a
    (1, block) array that repeats along the flat index -- a per-class vector
    repeated over the rows of a block, so that every operand is unit-strided
    and the inner loop vectorizes.

    Returns True; or False, having written nothing, when ``out`` overlaps an
    input in a way that an elementwise loop would get wrong (the caller then
    goes through temporaries): checked here, where it costs nanoseconds
    rather than a microsecond of ``np.may_share_memory`` calls."""
    if _clobbers(out, labels) or _clobbers(out, logits) or _clobbers(out, pos_weight):
        return False
    for b in prange((size + block - 1) // block):
        _prefer_wide_vectors()
        start = b * block
        stop = min(size, start + block)
        z = _block_view(labels, start, stop)
        x = _block_view(logits, start, stop)
        q = _block_view(pos_weight, start, stop)
        o = _block_view(out, start, stop)
        for j in range(stop - start):  # indices from 0: no wraparound checks
            _store(o, j, fn(o, _item(z, j), _item(x, j), _item(q, j)))  # noqa: F821
    return True



_loss = _typed["loss"]
_grad = _typed["grad"]


def _put(out, i, value):
    """out[i] = value, or nothing when out is None."""


overload(_put, inline="always")(put_implementation)


@intrinsic
def _add_in_any_order(typingctx, total, value):
    """total + value as a float64 addition marked ``reassoc``: a running sum
    of these may be regrouped, so LLVM vectorizes the loop that keeps it (as
    partial sums in vector lanes, added at the end).  A plain running sum is
    a chain of dependent additions that LLVM may not reorder: the loop stayed
    scalar, 4-7x slower.  Only this addition is marked; the loss itself is
    computed exactly as written."""
    if not all(isinstance(t, types.Float) for t in (total, value)):
        return None

    def codegen(context, builder, signature, args):
        a, b = (context.cast(builder, v, t, types.float64)
                for v, t in zip(args, signature.args))
        added = builder.fadd(a, b)
        added.flags.append("reassoc")
        return added

    return types.float64(total, value), codegen


@numba.njit(error_model="numpy", cache=True)
def _block_total(labels, logits, pos_weight, weight, keep, shift, grad_scale,
                 loss_out, grad_out, count, witness):
    """One block of ``_reduce_loop``: operands are the block's ``count``
    elements (or scalars, or None for an output not wanted); returns the
    float64 sum.

    Compiled once and never inlined (``_prefer_wide_vectors``), so the serial
    and the parallel reduction loops run the same machine code: LLVM chooses
    how to split the running sum into vector lanes (``_add_in_any_order``)
    once, and the sums do not depend on the number of threads."""
    _prefer_wide_vectors()
    total = 0.0
    for j in range(count):  # indices from 0: no wraparound checks
        z = float(_item(labels, j)) * keep + shift
        x = _item(logits, j)
        q = _item(pos_weight, j)
        w = float(_item(weight, j))
        value = w * _loss(witness, z, x, q)
        total = _add_in_any_order(total, value)
        _put(loss_out, j, value)
        _put(grad_out, j, (w * grad_scale) * _grad(witness, z, x, q))
    return total


def _reduce_loop(labels, logits, pos_weight, weight, smoothing, grad_scale,
                 loss_out, grad_out, size, partials, block, witness):
    """Weighted loss summed per block of ``block`` elements into ``partials``
    (float64), with label smoothing z (1 - a) + a/2; optionally the weighted
    elementwise loss into ``loss_out`` and weight * grad_scale * grad into
    ``grad_out`` (either may be None).  Operands: 1-D arrays or scalars;
    ``witness`` is a scalar of the result type (float32 results use the
    float32-result primitives).  Each block is ``_block_total``."""
    keep = 1.0 - smoothing
    shift = 0.5 * smoothing
    for b in prange(partials.size):
        start = b * block
        stop = min(size, start + block)
        partials[b] = _block_total(
            _block_view(labels, start, stop), _block_view(logits, start, stop),
            _block_view(pos_weight, start, stop), _block_view(weight, start, stop),
            keep, shift, grad_scale, _block_view(loss_out, start, stop),
            _block_view(grad_out, start, stop), stop - start, witness)


def _touch_pages(out, step):
    """Write 0 to every ``step``-th element of ``out`` (one per memory page):
    ``map_pages`` where the kernel cannot do it itself."""
    for i in range((out.size + step - 1) // step):
        out[i * step] = 0


def _find_madvise():
    """libc's ``madvise`` through ctypes on Linux, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise


#: Linux >= 5.14: fault the pages in writable, as if written to, without
#: changing what they hold.
MADV_POPULATE_WRITE = 23
#: ``madvise``, until the kernel turns MADV_POPULATE_WRITE down as unknown.
_madvise = _find_madvise()


def map_pages(out):
    """Have the kernel map every page of the contiguous array ``out`` now.

    A new output of many megabytes is fresh memory, which the kernel maps and
    zeroes on first touch (a 2 MiB huge page at a time, where NumPy asks for
    them).  Doing that in the middle of the compute loop cost about twice the
    zeroing itself, and when both threads of the parallel loop fault pages,
    calls stall for 30-130 ms now and then (3-6 of 200 calls at 1e7
    elements; none of 800 with the pages mapped first).  So large new
    outputs are mapped first, on one thread: with one
    ``madvise(MADV_POPULATE_WRITE)`` call (the kernel walks the pages: float32
    calls on two threads ~6% faster than writing to each page), or, on other
    systems and on Linux before 5.14, by writing 0 to the first element of
    each page (``_touch_pages``).  Measurements: ``benchmarks/RESULTS.md``."""
    global _madvise
    if _madvise is not None:
        start = out.ctypes.data & -mmap.PAGESIZE  # madvise wants a page boundary
        if _madvise(start, out.ctypes.data + out.nbytes - start, MADV_POPULATE_WRITE) == 0:
            return
        if ctypes.get_errno() == errno.EINVAL:
            _madvise = None
    get_touch_loop()(out.ravel(order="K"), max(1, mmap.PAGESIZE // out.itemsize))


#: {(function name or "reduce" or "touch", parallel): compiled loop}, filled lazily.
compiled_loops = {}


def _compiled(key, qualname, template, fn, parallel):
    """``template`` with ``fn`` (see ``_specialize``) named ``qualname``,
    compiled serial or parallel, once per process (and cached on disk), and
    kept in ``compiled_loops`` under (key, parallel)."""
    loop = compiled_loops.get((key, parallel))
    if loop is None:
        kernel = _specialize(template, fn, f"{qualname}{'_parallel' if parallel else ''}")
        loop = compiled_loops[key, parallel] = numba.njit(
            parallel=parallel, error_model="numpy", cache=True)(kernel)
    return loop


def get_reduce_loop(parallel):
    """The reduction loop, serial or parallel (compiled lazily)."""
    return _compiled("reduce", "reduce_loop", _reduce_loop, None, parallel)


def get_touch_loop():
    """``_touch_pages`` (compiled lazily): ``map_pages``'s fallback."""
    return _compiled("touch", "touch_pages", _touch_pages, None, False)


def get_loop(name, parallel):
    """The block loop of scalar function ``name`` (compiled lazily)."""
    return _compiled(name, f"block_loop_{name}", _block_loop, _typed[name], parallel)
