"""Checks that need a real CUDA GPU; skipped without one.

Accuracy against the mpmath reference through the GPU paths, and the array
types of CuPy and PyTorch (when installed)."""

import os

import numpy as np
import pytest
import reference

import wcel_numba as w

pytestmark = pytest.mark.gpu


def _cuda_or_skip():
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("simulator")
    try:
        from numba import cuda
    except ImportError:
        pytest.skip("numba-cuda is not installed")
    if not cuda.is_available():
        pytest.skip("no CUDA GPU")
    return cuda


BOUND = {np.float32: 2.0, np.float64: 4.0}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["loss", "grad", "grad_labels", "hessian"])
def test_accuracy_on_the_gpu(name, dtype):
    cuda = _cuda_or_skip()
    z, x, q, hi, lo, unit = reference.table(name, dtype)
    fn = getattr(w, name)
    paths = {
        "flat": lambda: fn(cuda.to_device(z), cuda.to_device(x), cuda.to_device(q)),
        "strided": lambda: fn(cuda.to_device(z[::-1]), cuda.to_device(x[::-1]),
                              cuda.to_device(q[::-1]))[::-1],
        "ufunc": lambda: getattr(w.cuda, name)(cuda.to_device(z), cuda.to_device(x),
                                               cuda.to_device(q)),
    }
    for path, run in paths.items():
        got = run().copy_to_host()
        err = reference.ulp_errors(got, hi, lo, unit)
        i = int(np.argmax(err))
        assert err[i] <= BOUND[dtype], f"{path}: {err[i]:.2f} ULP at x={x[i]!r}, z={z[i]}, q={q[i]}"


def test_cupy_in_cupy_out():
    _cuda_or_skip()
    cp = pytest.importorskip("cupy")
    x = cp.linspace(-5, 5, 1000, dtype=cp.float32).reshape(10, 100)
    z = (x > 0).astype(cp.float32)
    q = cp.linspace(0.5, 3, 100, dtype=cp.float32)
    got = w.loss(z, x, q)
    assert isinstance(got, cp.ndarray) and got.dtype == cp.float32
    np.testing.assert_allclose(cp.asnumpy(got), w.loss(cp.asnumpy(z), cp.asnumpy(x),
                                                       cp.asnumpy(q)), rtol=1e-6)


def test_torch_cuda_in_torch_cuda_out():
    _cuda_or_skip()
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    x = torch.randn(64, 8, device="cuda", requires_grad=True)
    z = (torch.rand(64, 8, device="cuda") > 0.5).float()
    got = w.grad(z, x, torch.full((8,), 2.0, device="cuda"))
    assert isinstance(got, torch.Tensor) and got.device == x.device
    np.testing.assert_allclose(got.cpu().numpy(), w.grad(z.cpu().numpy(),
                                                         x.detach().cpu().numpy(), 2.0),
                               rtol=1e-6, atol=1e-7)
