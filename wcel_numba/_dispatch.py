"""Choosing the target from where the arrays live.

* NumPy arrays, Python and NumPy scalars, lists and other array-likes, and
  PyTorch CPU tensors (without a copy) run on the CPU (``_host``).
* Objects exposing ``__cuda_array_interface__`` (Numba device arrays, CuPy
  arrays, PyTorch CUDA tensors) or a CUDA ``__dlpack_device__`` (JAX GPU
  arrays) run on the GPU (``_device``), imported only then.

The result has the array type of the ``logits`` argument.
"""

import sys

import numpy as np

from . import _host

_DLPACK_CUDA = 2  # kDLCUDA in DLPack's DLDeviceType
_ARG_NAMES = ("labels", "logits", "pos_weight")


def _torch_tensor_type():
    torch = sys.modules.get("torch")
    return torch.Tensor if torch is not None else None


def is_device_array(value):
    """True for objects that live in CUDA device memory."""
    if isinstance(value, (np.ndarray, np.generic, float, int, bool)) or value is None:
        return False
    if hasattr(value, "__cuda_array_interface__"):
        return True
    dlpack_device = getattr(value, "__dlpack_device__", None)
    if dlpack_device is not None:
        try:
            return dlpack_device()[0] == _DLPACK_CUDA
        except Exception:
            return False
    return False


def cuda_status():
    """A line saying whether CUDA is usable here, without initializing it early."""
    try:
        from numba import cuda
    except ImportError:
        return "unusable: numba-cuda is not installed (pip install 'wcel_numba[cuda]')"
    try:
        if not cuda.is_available():
            return "unusable: no CUDA driver or GPU found"
        return "usable: " + ", ".join(str(d.name) for d in cuda.gpus)
    except Exception as exc:
        return f"unusable: {exc}"


def shape_of(value):
    """The shape of an array-like without converting device arrays."""
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(value, np.ndarray):
        return tuple(shape)
    return np.shape(value)


def _to_host(value, tensor_type):
    if tensor_type is not None and isinstance(value, tensor_type):
        return value.detach().numpy()
    return value


def _from_host(result, like, tensor_type):
    if tensor_type is not None and isinstance(like, tensor_type):
        import torch
        if isinstance(result, tuple):
            return tuple(torch.from_numpy(np.asarray(r)) for r in result)
        return torch.from_numpy(np.asarray(result))
    return result


def is_dask_array(value):
    return type(value).__module__.startswith("dask.") and hasattr(value, "map_blocks")


def reduce(labels, logits, pos_weight, weight, reduction, label_smoothing, want_grad,
           stream=None):
    """Run a fused reduction on the target the arrays live on."""
    args = (labels, logits, pos_weight, weight)
    if any(is_dask_array(v) for v in args):
        from . import _dask
        return _dask.reduce(*args, reduction, label_smoothing, want_grad)
    if any(is_device_array(v) for v in args):
        from . import _device
        return _device.reduce(*args, reduction, label_smoothing, want_grad, stream)
    from . import _reduce
    tensor_type = _torch_tensor_type()
    if tensor_type is None:
        return _reduce.reduce_host(*args, reduction, label_smoothing, want_grad)
    host = [_to_host(v, tensor_type) for v in args]
    result = _reduce.reduce_host(*host, reduction, label_smoothing, want_grad)
    return _from_host(result, logits, tensor_type)


def elementwise(name, labels, logits, pos_weight, out, stream=None):
    """Run elementwise function ``name`` on the target the arrays live on."""
    args = (labels, logits, pos_weight)
    if any(is_dask_array(v) for v in args):
        if out is not None:
            raise TypeError("out= is not supported with Dask arrays (they are lazy)")
        from . import _dask
        return _dask.elementwise(name, *args)
    on_device = [is_device_array(v) for v in args]
    outs = out if isinstance(out, tuple) else (out,)
    if any(on_device) or any(is_device_array(o) for o in outs if o is not None):
        from . import _device
        return _device.elementwise(name, labels, logits, pos_weight, out, stream)

    tensor_type = _torch_tensor_type()
    if tensor_type is None:
        return _host.run_elementwise(name, *args, out=out)
    args = tuple(_to_host(v, tensor_type) for v in args)
    host_out = out
    if out is not None:
        host_out = (tuple(_to_host(o, tensor_type) for o in out)
                    if isinstance(out, tuple) else _to_host(out, tensor_type))
    result = _host.run_elementwise(name, *args, out=host_out)
    if out is not None:
        return out  # the caller's own arrays, now filled
    return _from_host(result, logits, tensor_type)
