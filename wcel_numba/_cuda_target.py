"""The CUDA target, built lazily on first use; importable as ``wcel_numba.cuda``.

(The file is not named ``cuda.py``: numba-cuda's import redirector treats any
module whose name contains "numba.cuda" as its own, which would catch
"wcel_numba.cuda".  ``wcel_numba/__init__.py`` registers this module under
that name instead.)

Public: ``loss``, ``grad``, ``grad_labels``, ``hessian`` -- ``@vectorize(
target='cuda')`` ufuncs with float32 and float64 signatures, called as
``ufunc(labels, logits, pos_weight)`` on device arrays.  They are made on first
attribute access, because numba-cuda compiles a CUDA ufunc's core when it is
defined and needs a driver for that; ``import wcel_numba`` never imports
``numba.cuda``.

Internal: ``flat_kernel``, ``rows_kernel`` (per-class vectors) and
``strided_kernel`` (anything else), ``cuda.jit`` kernels that the dispatcher
(``_device``) launches, and ``reduce_kernels``: scalars are kernel arguments,
grid-stride loops with 64-bit indices, and broadcasting by strides (a stride
of 0) instead of materialized copies.

Both are compiled from the scalar definitions in ``_scalar.py`` -- the same
ones as the CPU target: the float64 kernels compute in float64 with
libdevice's ``exp``/``log1p``, the float32 kernels in float-float pairs of
float32 (``_floatfloat``), so that they hold the 2-ULP bound without a
double-precision instruction.
"""

import functools
import math

import numba
import numpy as np

from ._access import item_implementation, put_implementation
from ._floatfloat import float_float_arithmetic
from ._scalar import ELEMENTWISE, build_scalar_functions, plain_arithmetic

SIGNATURES = [
    "float32(float32, float32, float32)",
    "float64(float64, float64, float64)",
]

#: Threads per block of the kernels.
BLOCK = 256


def _float64_primitives():
    """(exp_scaled, log1p_scaled, scale) in float64 from libdevice's ``exp``
    and ``log1p``: exp(y) * 2**128 and log1p(e) * 2**128, as ``_scalar``
    expects.

    Where exp(y) itself would be subnormal, exp(y) * 2**128 is computed as
    exp(y + 128 ln2_hi) * exp(128 ln2_lo) -- y + 128 ln2_hi is exact there,
    as ln2_hi has few bits -- so a result like 1000 * e keeps its precision.
    """
    exponent = 128
    # ln2 split so that exponent * ln2_hi + y is exact for y near the cut.
    ln2_hi, ln2_lo = 6.93147180369123816490e-01, 1.90821492927058770002e-10
    scale = 2.0 ** exponent
    cut = -708.0  # exp(y) is normal for y >= cut
    shift = exponent * ln2_hi
    correction = math.exp(exponent * ln2_lo)
    tiny = 2.0 ** -60  # log1p(e) = e to far below one ULP

    def exp_scaled(y):
        if y >= cut:
            return math.exp(y) * scale
        return math.exp(y + shift) * correction

    def log1p_scaled(e, e_scaled):
        return e_scaled if e < tiny else math.log1p(e) * scale

    return exp_scaled, log1p_scaled, scale


#: ``numba.cuda``, imported on first use.  A module global (not a local), so
#: the CUDA simulator can swap in its kernel API when it runs the kernels.
cuda = None


def _numba_cuda():
    global cuda
    if cuda is None:
        from numba import cuda as numba_cuda
        cuda = numba_cuda
    return cuda


@functools.cache
def scalar_functions(dtype):
    """The scalar device functions for ``dtype`` results: float64 computes in
    float64 with libdevice's exp/log1p, float32 in float-float pairs of
    float32 (``_floatfloat``; no double precision, 2 ULP)."""
    _numba_cuda()
    # Inlined by NVVM (the alwaysinline attribute), not by Numba's IR
    # inliner: the float-float arithmetic is hundreds of tiny functions, which
    # IR inlining (a deep copy per call site) took ~6x longer to compile.
    # The simulator's jit has no such option, and needs none.
    device = (cuda.jit(device=True) if cuda.config.ENABLE_CUDASIM
              else cuda.jit(device=True, forceinline=True))
    if np.dtype(dtype) == np.float32:
        return build_scalar_functions(device, float_float_arithmetic(device, device(_fma)))
    exp_scaled, log1p_scaled, scale = _float64_primitives()
    return build_scalar_functions(device, plain_arithmetic(
        device, numba.float64, device(exp_scaled), device(log1p_scaled), scale,
        device(_fma)))


def _fma(a, b, c):
    return cuda.fma(a, b, c)


def _typed_scalar(name):
    """A device function that runs ``name`` in the precision of its logits."""
    fn32 = getattr(scalar_functions(np.float32), name)
    fn64 = getattr(scalar_functions(np.float64), name)
    _numba_cuda()

    def call(labels, logits, pos_weight):
        if isinstance(logits, np.float32):  # CUDA simulator: plain Python
            return fn32(labels, logits, pos_weight)
        return fn64(labels, logits, pos_weight)

    if not cuda.config.ENABLE_CUDASIM:
        from numba.core import types
        from numba.cuda.extending import overload

        @overload(call, target="cuda")
        def _call(labels, logits, pos_weight):
            fn = fn32 if logits == types.float32 else fn64
            return lambda labels, logits, pos_weight: fn(labels, logits, pos_weight)

    return call


@functools.cache
def ufunc_core(name):
    """The Python function that ``ufunc(name)`` vectorizes (its core)."""
    scalar = _typed_scalar(name)

    def kernel(labels, logits, pos_weight):
        return scalar(labels, logits, pos_weight)

    kernel.__name__ = kernel.__qualname__ = name
    return kernel


@functools.cache
def ufunc(name):
    """The ``@vectorize(target='cuda')`` ufunc of scalar function ``name``."""
    return numba.vectorize(SIGNATURES, target="cuda")(ufunc_core(name))


def __getattr__(attr):
    if attr in ELEMENTWISE:
        return ufunc(attr)
    raise AttributeError(f"module 'wcel_numba.cuda' has no attribute {attr!r}")


# --- kernels ------------------------------------------------------------------

def _store(out, i, value):
    out[i] = value


def _store_pair(out, i, value):
    out[0][i] = value[0]
    out[1][i] = value[1]


@functools.cache
def flat_kernel(name, dtype):
    """Kernel over n contiguous elements; each input a 1-D array or a scalar.

    Called as kernel[blocks, BLOCK, stream](labels, logits, pos_weight, out, n)
    with ``out`` an array, or a pair of arrays for loss_and_grad.
    """
    _numba_cuda()
    fn = getattr(scalar_functions(dtype), name)
    device = cuda.jit(device=True, inline="always")
    item = _item_function()
    store = device(_store_pair if name == "loss_and_grad" else _store)

    @cuda.jit
    def flat(labels, logits, pos_weight, out, n):
        start = cuda.grid(1)
        step = cuda.gridsize(1)
        for i in range(start, n, step):
            store(out, i, fn(item(labels, i), item(logits, i), item(pos_weight, i)))

    return flat


@functools.cache
def rows_kernel(name, dtype):
    """Kernel over a C-contiguous (rows, cols) output whose inputs are arrays
    of that shape, per-class vectors of shape (cols,), or scalars -- the
    per-class pos_weight case without any index division.

    Called as kernel[(bx, by), ROWS_BLOCK, stream](labels, logits,
    pos_weight, out, rows, cols), ``out`` a 2-D array or a pair of them;
    threads run along the columns (coalesced), grid-stride in both axes.
    """
    _numba_cuda()
    fn = getattr(scalar_functions(dtype), name)
    cell = _cell_function()
    device = cuda.jit(device=True, inline="always")
    store = device(_store_pair if name == "loss_and_grad" else _store)

    @cuda.jit
    def rows_kernel(labels, logits, pos_weight, out, rows, cols):
        col_start, row_start = cuda.grid(2)
        col_step, row_step = cuda.gridsize(2)
        for r in range(row_start, rows, row_step):
            for c in range(col_start, cols, col_step):
                store(out, (r, c), fn(cell(labels, r, c), cell(logits, r, c),
                                      cell(pos_weight, r, c)))

    return rows_kernel


#: Threads per block of the rows kernel: 32 columns x 8 rows.
ROWS_BLOCK = (32, 8)


@functools.cache
def strided_kernel(name, dtype):
    """Kernel over any broadcast layout, for one output (not loss_and_grad).

    Each array argument, the output too, is passed as a 1-D array over the
    memory it spans, the element offset of its index (0, ..., 0) and its
    strides in elements for every output axis (0 where it is broadcast);
    scalar inputs are passed as they are, with offset 0 and zero strides.
    """
    _numba_cuda()
    fn = getattr(scalar_functions(dtype), name)
    item = _item_function()
    offsets = _offsets_function()

    @cuda.jit
    def strided(labels, labels_at, labels_strides, logits, logits_at, logits_strides,
                pos_weight, pos_weight_at, pos_weight_strides, out, out_at, out_strides,
                shape, n):
        start = cuda.grid(1)
        step = cuda.gridsize(1)
        for i in range(start, n, step):
            a, b, c, d = offsets(i, shape, labels_at, labels_strides, logits_at,
                                 logits_strides, pos_weight_at, pos_weight_strides,
                                 out_at, out_strides)
            out[d] = fn(item(labels, a), item(logits, b), item(pos_weight, c))

    return strided


@functools.cache
def reduce_kernels(dtype):
    """(partial_sums, finish): a two-kernel reduction of the weighted,
    label-smoothed loss, with optional elementwise weighted loss and scaled
    gradient outputs (contiguous, or None).

    partial_sums[blocks, BLOCK](labels, at, strides, logits, at, strides,
        pos_weight, at, strides, weight, at, strides, keep, shift, grad_scale,
        loss_out, grad_out, shape, n, partials): each thread accumulates in
        float64 over a grid-stride loop, each block reduces in shared memory
        into partials[block].
    finish[1, BLOCK](partials, scale, result): result[0] = scale * sum(partials).
    """
    _numba_cuda()
    functions = scalar_functions(dtype)
    fn_loss, fn_grad = functions.loss, functions.grad
    real = numba.float32 if np.dtype(dtype) == np.float32 else numba.float64
    item = _item_function()
    put = _put_function()
    offsets = _offsets_function()
    block_sum = _block_sum_function()
    block = BLOCK

    @cuda.jit
    def partial_sums(labels, labels_at, labels_strides, logits, logits_at, logits_strides,
                     pos_weight, pos_weight_at, pos_weight_strides, weight, weight_at,
                     weight_strides, keep, shift, grad_scale, loss_out, grad_out, shape, n,
                     partials):
        shared = cuda.shared.array(block, numba.float64)
        tid = cuda.threadIdx.x
        total = numba.float64(0.0)
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            a, b, c, d = offsets(i, shape, labels_at, labels_strides, logits_at,
                                 logits_strides, pos_weight_at, pos_weight_strides,
                                 weight_at, weight_strides)
            z = real(item(labels, a)) * keep + shift
            x = real(item(logits, b))
            q = real(item(pos_weight, c))
            w = real(item(weight, d))
            value = w * fn_loss(z, x, q)
            total += numba.float64(value)
            put(loss_out, i, value)
            put(grad_out, i, (w * grad_scale) * fn_grad(z, x, q))
        total = block_sum(shared, tid, total)
        if tid == 0:
            partials[cuda.blockIdx.x] = total

    @cuda.jit
    def finish(partials, scale, result):
        shared = cuda.shared.array(block, numba.float64)
        tid = cuda.threadIdx.x
        total = numba.float64(0.0)
        for i in range(tid, partials.size, block):
            total += partials[i]
        total = block_sum(shared, tid, total)
        if tid == 0:
            result[0] = total * scale

    return partial_sums, finish


@functools.cache
def _offsets_function():
    """Device function: the element offsets of four operands (start offset
    and strides per output axis each) at linear output index i."""
    _numba_cuda()

    def offsets(i, shape, a, a_strides, b, b_strides, c, c_strides, d, d_strides):
        rest = i
        for axis in range(len(shape) - 1, -1, -1):
            coord = rest % shape[axis]
            rest //= shape[axis]
            a += coord * a_strides[axis]
            b += coord * b_strides[axis]
            c += coord * c_strides[axis]
            d += coord * d_strides[axis]
        return a, b, c, d

    return cuda.jit(device=True, inline="always")(offsets)


@functools.cache
def _block_sum_function():
    """Device function: the sum of ``value`` over the threads of a block
    (tree reduction in the shared array, BLOCK entries); every thread gets
    the block's sum."""
    _numba_cuda()
    block = BLOCK

    def block_sum(shared, tid, value):
        shared[tid] = value
        cuda.syncthreads()
        width = block // 2
        while width > 0:
            if tid < width:
                shared[tid] += shared[tid + width]
            cuda.syncthreads()
            width //= 2
        return shared[0]

    return cuda.jit(device=True, inline="always")(block_sum)


@functools.cache
def _cell_function():
    """Device function: a[r, c] for a 2-D array, a[c] for a per-class vector,
    a itself for a scalar."""
    _numba_cuda()
    if cuda.config.ENABLE_CUDASIM:
        def cell(a, r, c):
            ndim = len(a.shape) if hasattr(a, "shape") else 0
            return a[r, c] if ndim == 2 else (a[c] if ndim == 1 else a)
        return cell

    from numba.core import types
    from numba.cuda.extending import overload

    def cell(a, r, c):
        pass

    @overload(cell, target="cuda", inline="always")
    def _cell(a, r, c):
        if isinstance(a, types.Array) and a.ndim == 2:
            return lambda a, r, c: a[r, c]
        if isinstance(a, types.Array):
            return lambda a, r, c: a[c]
        return lambda a, r, c: a

    return cell


@functools.cache
def _put_function():
    """Device function: out[i] = value, or nothing when out is None."""
    _numba_cuda()
    if cuda.config.ENABLE_CUDASIM:
        def put(out, i, value):
            if out is not None:
                out[i] = value
        return put

    from numba.cuda.extending import overload

    def put(out, i, value):
        pass

    overload(put, target="cuda", inline="always")(put_implementation)
    return put


@functools.cache
def _item_function():
    """Device function: a[i] for an array, a itself for a scalar."""
    _numba_cuda()
    if cuda.config.ENABLE_CUDASIM:
        def item(a, i):
            return a[i] if hasattr(a, "shape") and a.shape else a
        return item

    from numba.cuda.extending import overload

    def item(a, i):
        pass

    overload(item, target="cuda", inline="always")(item_implementation)
    return item


@functools.cache
def grid_blocks_limit():
    """Blocks enough to fill the device several times over (1 in the CUDA
    simulator, whose device has no multiprocessors: the grid-stride loops
    then do all the work in one block)."""
    sms = getattr(_numba_cuda().get_current_device(), "MULTIPROCESSOR_COUNT", None)
    return sms * 32 if sms else 1
