"""Target choice without a GPU: what goes to the CPU, and the errors of the
GPU path when CUDA cannot be used."""

import os

import numpy as np
import pytest

import wcel_numba as w

NO_SIM = pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1",
                            reason="the simulator makes CUDA usable")


class DeviceLike:
    """An object that claims to live on a CUDA device."""

    __cuda_array_interface__ = {"shape": (3,), "typestr": "<f4", "data": (0, False),
                                "version": 3, "strides": None}


class DLPackOnCUDA:
    def __dlpack_device__(self):
        return (2, 0)

    def __dlpack__(self, stream=None):  # pragma: no cover - never reached
        raise AssertionError


@NO_SIM
def test_device_array_without_usable_cuda_says_why():
    from wcel_numba import _dispatch
    if "usable:" in _dispatch.cuda_status() and "unusable" not in _dispatch.cuda_status():
        pytest.skip("CUDA is usable here")
    with pytest.raises(RuntimeError, match="CUDA is unusable"):
        w.loss(np.zeros(3, np.float32), DeviceLike())
    with pytest.raises(RuntimeError, match="CUDA is unusable"):
        w.grad(DLPackOnCUDA(), np.zeros(3))


def test_import_does_not_import_numba_cuda():
    import subprocess
    import sys
    code = ("import sys, wcel_numba; wcel_numba.loss(1.0, 2.0); "
            "print('numba.cuda' in sys.modules or 'numba_cuda' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300).stdout.strip()
    assert out == "False"


def test_torch_tensor_that_requires_grad():
    torch = pytest.importorskip("torch")
    x = torch.linspace(-3, 3, 7, dtype=torch.float64, requires_grad=True)
    z = torch.tensor([0.0, 1, 0, 1, 0, 1, 0], dtype=torch.float64)
    got = w.grad(z, x, 2.0)
    assert isinstance(got, torch.Tensor) and not got.requires_grad
    np.testing.assert_array_equal(got.numpy(), w.grad(z.numpy(), x.detach().numpy(), 2.0))


def test_cuda_ufuncs_are_lazy_attributes():
    import wcel_numba.cuda as wcuda
    assert wcuda is w.cuda
    with pytest.raises(AttributeError):
        w.cuda.not_a_function  # noqa: B018
