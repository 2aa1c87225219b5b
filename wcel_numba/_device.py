"""Running an elementwise function on device (CUDA) arrays.

Accepts anything with ``__cuda_array_interface__`` (Numba device arrays, CuPy
arrays, PyTorch CUDA tensors) and DLPack producers on CUDA (converted through
CuPy or PyTorch when one is installed), without copies.  Host scalars and
0-d host arrays become kernel arguments; a host array of any other size among
device arrays is a ``TypeError`` naming it.

The result is allocated on the logits' device, in the logits' array type, and
computed on the stream given as ``stream=``, else the one the logits' producer
exports (CUDA Array Interface v3 ``stream``, PyTorch's or CuPy's current
stream), else the default stream.  The host never synchronizes.
"""

import sys

import numpy as np

from . import _host

ARG_NAMES = _host.ARG_NAMES


def _cuda():
    try:
        from numba import cuda
    except ImportError:
        cuda = None
    if cuda is None or not cuda.is_available():
        from ._dispatch import cuda_status
        raise RuntimeError(f"a CUDA device array was passed, but CUDA is {cuda_status()}")
    return cuda


class _Operand:
    """A device array (``view``: a Numba device array) or a host scalar."""

    def __init__(self, value, name, cuda):
        self.source = value
        self.view = None
        self.scalar = None
        interface = _cuda_interface(value, name)
        if interface is not None:
            self.view = cuda.from_cuda_array_interface(interface, owner=value, sync=False)
            self.interface = interface
            self.dtype = self.view.dtype
            self.shape = tuple(self.view.shape)
        else:
            host = _host.as_operand(value, name)
            if isinstance(host, np.ndarray):
                if host.size != 1 or host.ndim:
                    raise TypeError(
                        f"{name} is a host array of shape {host.shape} while other arguments "
                        f"are on the GPU; move it to the device first (cupy.asarray, "
                        f"torch.as_tensor(..., device='cuda'), numba.cuda.to_device)")
                self.dtype, self.scalar = host.dtype, host[()]
            else:
                self.dtype, self.scalar = None, host
            self.shape = ()
        if self.dtype is not None and self.dtype.kind not in "biuf":
            raise TypeError(f"{name} has unsupported dtype {self.dtype}; expected a real "
                            f"floating, integer or bool dtype")


def _cuda_interface(value, name):
    """The CUDA Array Interface dict of a device array, or None for host data."""
    interface = getattr(value, "__cuda_array_interface__", None)
    if interface is not None:
        return interface
    dlpack_device = getattr(value, "__dlpack_device__", None)
    if dlpack_device is None or isinstance(value, np.ndarray):
        return None
    if dlpack_device()[0] != 2:  # kDLCUDA
        return None
    for module in ("cupy", "torch"):
        lib = sys.modules.get(module)
        if lib is None:
            try:
                lib = __import__(module)
            except ImportError:
                continue
        return lib.from_dlpack(value).__cuda_array_interface__
    raise TypeError(f"{name} is a DLPack array on CUDA; reading it needs CuPy or PyTorch")


def _stream_of(value, interface, cuda, stream):
    """The stream to launch on: explicit, else the producer's, else default."""
    if stream is not None:
        return stream if not isinstance(stream, int) else cuda.external_stream(stream)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return cuda.external_stream(torch.cuda.current_stream(value.device).cuda_stream)
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(value, cupy.ndarray):
        return cuda.external_stream(cupy.cuda.get_current_stream().ptr)
    ptr = (interface or {}).get("stream")
    if ptr:
        return cuda.external_stream(ptr)
    return cuda.default_stream()


def _device_id(value):
    """The GPU ordinal of a PyTorch or CuPy array (None for others: Numba
    device arrays live in the current context)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return value.device.index
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(value, cupy.ndarray):
        return value.device.id
    return None


def _allocate(like, shape, dtype, cuda, stream):
    """An empty result in the array type of ``like`` (the logits)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(like, torch.Tensor):
        return torch.empty(shape, dtype=getattr(torch, dtype.name), device=like.device)
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(like, cupy.ndarray):
        with like.device:
            return cupy.empty(shape, dtype=dtype)
    return cuda.device_array(shape, dtype=dtype, stream=stream)


def _check_out(out, shape, result_dtype, cuda, name):
    interface = getattr(out, "__cuda_array_interface__", None)
    if interface is None:
        raise TypeError(f"{name} must be a device array when computing on the GPU")
    view = cuda.from_cuda_array_interface(interface, owner=out, sync=False)
    if tuple(view.shape) != shape:
        raise ValueError(f"{name} has shape {tuple(view.shape)}, but the result has shape {shape}")
    if interface.get("data", (0, False))[1]:
        raise ValueError(f"{name} is read-only")
    if view.dtype != result_dtype:
        raise TypeError(f"{name} has dtype {view.dtype}; the result is {result_dtype}")
    return view


def _span(view, shape):
    """(1-D view over the memory ``view`` spans, element offset of its index
    (0, ..., 0) in it, strides in elements for every output axis, 0 where
    broadcast), for the strided kernel."""
    itemsize = view.dtype.itemsize
    ndim = len(shape)
    strides = [0] * ndim
    for axis, (extent, stride) in enumerate(zip(view.shape, view.strides)):
        if extent != 1:
            strides[ndim - view.ndim + axis] = stride // itemsize
    low = sum(s * (n - 1) for s, n in zip(strides, shape) if s < 0)
    high = sum(s * (n - 1) for s, n in zip(strides, shape) if s > 0)
    return _offset_view(view, low, high - low + 1), -low, tuple(strides)


def _rows_layout(ops, views, shape):
    """Whether the rows kernel applies: C-contiguous outputs of 2+ dimensions,
    inputs of the full shape (C-contiguous), per-class vectors along the last
    axis (contiguous), or scalars."""
    if len(shape) < 2 or not all(v.is_c_contiguous() for v in views):
        return False
    for op in ops:
        if op.view is None:
            continue
        full = op.shape == shape
        per_class = (op.view.size == shape[-1] and op.shape[-1:] == shape[-1:])
        if not ((full or per_class) and op.view.is_c_contiguous()):
            return False
    return True


def _strided_args(ops, shape, real):
    """Kernel arguments of the operands for the strided kernels: (span, offset,
    strides) of each device array, (value, 0, zero strides) of each scalar."""
    args = []
    for op in ops:
        if op.view is None:
            args += [real(op.scalar), 0, (0,) * len(shape)]
        else:
            args += list(_span(op.view, shape))
    return args


def _blocks(size):
    """Blocks to launch for ``size`` elements (grid-stride loops do the rest)."""
    from . import _cuda_target as target
    return max(1, min((size + target.BLOCK - 1) // target.BLOCK, target.grid_blocks_limit()))


def _offset_view(view, low, length):
    """A 1-D device array of ``length`` elements starting ``low`` elements
    from ``view``'s first element (low <= 0 for negative strides)."""
    from numba import cuda
    interface = dict(view.__cuda_array_interface__)
    itemsize = view.dtype.itemsize
    interface.update(shape=(length,), strides=None,
                     data=(interface["data"][0] + low * itemsize, False))
    return cuda.from_cuda_array_interface(interface, owner=view, sync=False)


def _prepare(values, names, stream):
    """The shared start of a GPU call: (cuda, operands, result dtype, compute
    dtype, broadcast shape, the array whose type the results take -- the
    logits, or else the first device argument -- and the launch stream)."""
    cuda = _cuda()
    ops = [_Operand(v, n, cuda) for v, n in zip(values, names)]
    devices = {_device_id(op.source) for op in ops if op.view is not None} - {None}
    if len(devices) > 1:
        raise ValueError(f"the arguments are on different GPUs: {sorted(devices)}")
    result_dtype, compute = _host.result_dtypes(*(op.dtype for op in ops))
    if result_dtype != compute:
        raise TypeError(f"{result_dtype} is not supported on the GPU; use float32 or float64")
    shape = _host.broadcast_shapes([op.shape for op in ops], names)
    like = ops[1].source if ops[1].view is not None else next(
        op.source for op in ops if op.view is not None)
    launch_stream = _stream_of(like, getattr(like, "__cuda_array_interface__", None), cuda,
                               stream)
    return cuda, ops, result_dtype, compute, shape, like, launch_stream


def _new_output(like, shape, dtype, cuda, stream):
    """(a new array in the type of ``like``, a Numba view of it)."""
    array = _allocate(like, shape, dtype, cuda, stream)
    return array, cuda.from_cuda_array_interface(array.__cuda_array_interface__, owner=array,
                                                 sync=False)


def elementwise(name, labels, logits, pos_weight, out=None, stream=None):
    """Evaluate ``name`` on the GPU; see the module docstring."""
    cuda, ops, result_dtype, compute, shape, like, launch_stream = _prepare(
        (labels, logits, pos_weight), ARG_NAMES, stream)

    nout = 2 if name == "loss_and_grad" else 1
    outs = _host.normalize_out(out, nout)
    results, views = [], []
    for i, o in enumerate(outs):
        label = "out" if nout == 1 else f"out[{i}]"
        if o is None:
            o, view = _new_output(like, shape, result_dtype, cuda, launch_stream)
        else:
            view = _check_out(o, shape, result_dtype, cuda, label)
        results.append(o)
        views.append(view)

    size = int(np.prod(shape, dtype=np.int64))
    if size:
        _launch(name, ops, views, shape, size, compute, launch_stream)
    if not shape and out is None and all(op.view is None for op in ops):
        results = [r.copy_to_host()[()] for r in results]
    return results[0] if nout == 1 else tuple(results)


def _launch(name, ops, views, shape, size, compute, stream):
    from . import _cuda_target as target
    scalar_type = compute.type
    blocks = _blocks(size)
    contiguous = (all(op.view is None or (op.shape == shape and op.view.is_c_contiguous())
                      for op in ops) and all(v.is_c_contiguous() for v in views))
    if contiguous:
        args = [op.view.reshape(size) if op.view is not None else scalar_type(op.scalar)
                for op in ops]
        flat = [v.reshape(size) for v in views]
        target.flat_kernel(name, scalar_type)[blocks, target.BLOCK, stream](
            *args, flat[0] if len(flat) == 1 else tuple(flat), size)
        return
    if _rows_layout(ops, views, shape):
        cols = shape[-1]
        rows = size // cols
        args = [scalar_type(op.scalar) if op.view is None else
                op.view.reshape(rows, cols) if op.shape == shape else op.view.reshape(cols)
                for op in ops]
        grid_x = min((cols + target.ROWS_BLOCK[0] - 1) // target.ROWS_BLOCK[0], 64)
        grid_y = max(1, min((rows + target.ROWS_BLOCK[1] - 1) // target.ROWS_BLOCK[1],
                            max(1, target.grid_blocks_limit() // grid_x)))
        outs = [v.reshape(rows, cols) for v in views]
        target.rows_kernel(name, scalar_type)[(grid_x, grid_y), target.ROWS_BLOCK, stream](
            *args, outs[0] if len(outs) == 1 else tuple(outs), rows, cols)
        return
    args = _strided_args(ops, shape, scalar_type)
    shape_arg = tuple(int(n) for n in shape)
    names = ("loss", "grad") if name == "loss_and_grad" else (name,)
    for fname, view in zip(names, views):
        target.strided_kernel(fname, scalar_type)[blocks, target.BLOCK, stream](
            *args, *_span(view, shape), shape_arg, size)


def reduce(labels, logits, pos_weight, weight, reduction, label_smoothing, want_grad,
           stream=None):
    """A fused reduction on the GPU (see ``_reduce`` for the math): a block
    reduction kernel leaves the number in a 0-d device array of the logits'
    type; the gradient (and, for 'none', the loss) are device arrays."""
    from . import _cuda_target as target
    from ._reduce import check_options
    check_options(reduction, label_smoothing)
    cuda, ops, result_dtype, compute, shape, like, launch_stream = _prepare(
        (labels, logits, pos_weight, 1.0 if weight is None else weight),
        ARG_NAMES + ("weight",), stream)
    size = int(np.prod(shape, dtype=np.int64))
    real = compute.type

    def new(shape_):
        return _new_output(like, shape_, result_dtype, cuda, launch_stream)

    loss_out, loss_view = new(shape) if reduction == "none" else (None, None)
    grad_out, grad_view = new(shape) if want_grad else (None, None)
    result, result_view = new((1,))
    args = _strided_args(ops, shape, real)
    blocks = _blocks(size)
    partials = cuda.device_array(blocks, np.float64, stream=launch_stream)
    partial_sums, finish = target.reduce_kernels(real)
    grad_scale = 1.0 / size if reduction == "mean" and size else 1.0
    partial_sums[blocks, target.BLOCK, launch_stream](
        *args, real(1.0 - label_smoothing), real(0.5 * label_smoothing), real(grad_scale),
        None if loss_view is None else loss_view.reshape(size),
        None if grad_view is None else grad_view.reshape(size),
        tuple(int(n) for n in shape), size, partials)
    scale = (1.0 / size if size else float("nan")) if reduction == "mean" else 1.0
    finish[1, target.BLOCK, launch_stream](partials, scale, result_view)
    value = loss_out if reduction == "none" else result.reshape(())
    return (value, grad_out) if want_grad else value
