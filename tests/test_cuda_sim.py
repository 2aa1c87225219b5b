"""The CUDA paths under Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1).

.ci/run runs these in a separate pytest process: the variable must be set
before numba is imported.  The simulator runs the kernels in Python with the
host's libm, so values are compared with the CPU target to within the
accuracy bounds, not bit for bit."""

import numpy as np
import pytest

import wcel_numba as w

pytestmark = pytest.mark.cudasim
rng = np.random.default_rng(11)
# The float32 kernels compute in float-float pairs of float32 (no
# double-precision instructions); the simulator runs them with numpy float32
# scalars -- IEEE float32 rounding of every step -- and a correctly rounded
# fma (cudasim_shim), so it computes what a GPU computes.  Both precisions
# are held to the package's bounds, against the CPU target's results.
ULPS = {np.float32: 2, np.float64: 4}
FUNCS = ["loss", "grad", "grad_labels", "hessian"]


def cuda():
    from numba import cuda
    return cuda


def larger_term(name, z, x, q):
    """Magnitude of the larger of the two terms whose difference is grad or
    grad_labels (the ULP unit of the accuracy bound for those)."""
    z, x, q = (np.asarray(a, np.float64) for a in (z, x, q))
    sig = 0.5 * (1 + np.tanh(x / 2))
    if name == "grad":
        return np.maximum((1 - z) * sig, q * z * (1 - sig))
    if name == "grad_labels":
        return np.maximum(q * np.logaddexp(0, -x), np.logaddexp(0, x))
    return 0.0


def assert_close(device_result, expected, dtype, scale=0.0):
    got = device_result.copy_to_host()
    assert got.dtype == dtype and got.shape == expected.shape
    unit = np.spacing(np.maximum(np.maximum(np.abs(expected), scale),
                                 np.finfo(dtype).tiny).astype(dtype))
    assert np.all(np.abs(got.astype(np.float64) - expected) <= ULPS[dtype] * unit)


def data(shape, dtype):
    x = (rng.standard_normal(shape) * 6).astype(dtype)
    z = rng.choice([0.0, 1.0, 0.3], shape).astype(dtype)
    return z, x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", FUNCS)
def test_contiguous_with_scalar_and_array_pos_weight(name, dtype):
    z, x = data(300, dtype)
    q = (rng.random(300) * 5).astype(dtype)
    fn = getattr(w, name)
    dz, dx, dq = (cuda().to_device(a) for a in (z, x, q))
    scalar_scale, array_scale = larger_term(name, z, x, 2.5), larger_term(name, z, x, q)
    assert_close(fn(dz, dx, 2.5), fn(z, x, 2.5), dtype, scalar_scale)
    assert_close(fn(dz, dx, dq), fn(z, x, q), dtype, array_scale)
    assert_close(fn(dz, dx, np.array(2.5, dtype)), fn(z, x, 2.5), dtype,
                 scalar_scale)  # 0-d host array


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_broadcasting_by_strides(dtype):
    z, x = data((6, 5), dtype)
    q = (rng.random(5) * 5).astype(dtype)
    d = cuda().to_device
    # per-class pos_weight, a column of labels, reversed and sliced views
    assert_close(w.loss(d(z), d(x), d(q)), w.loss(z, x, q), dtype)
    assert_close(w.grad(d(z[:, :1].copy()), d(x), d(q)), w.grad(z[:, :1], x, q), dtype,
                 larger_term("grad", z[:, :1], x, q))
    assert_close(w.hessian(d(z)[::-1, ::2], d(x)[:, ::2], 3.0), w.hessian(z[::-1, ::2], x[:, ::2], 3.0),
                 dtype)


def test_results_are_device_arrays_of_the_logits_type():
    z, x = data(10, np.float32)
    r = w.loss(cuda().to_device(z), cuda().to_device(x))
    assert cuda().is_cuda_array(r)
    loss, grad = w.loss_and_grad(cuda().to_device(z), cuda().to_device(x), 2.0)
    assert_close(loss, w.loss(z, x, 2.0), np.float32)
    assert_close(grad, w.grad(z, x, 2.0), np.float32, larger_term("grad", z, x, 2.0))


def test_out_including_non_contiguous():
    z, x = data((4, 6), np.float64)
    d = cuda().to_device
    out = cuda().device_array((4, 6))
    assert w.grad(d(z), d(x), 2.0, out=out) is out
    assert_close(out, w.grad(z, x, 2.0), np.float64, larger_term("grad", z, x, 2.0))
    base = cuda().to_device(np.full((4, 12), -7.0))
    w.grad(d(z), d(x), 2.0, out=base[:, ::2])
    host = base.copy_to_host()
    assert_close(cuda().to_device(host[:, ::2].copy()), w.grad(z, x, 2.0), np.float64,
                 larger_term("grad", z, x, 2.0))
    assert np.all(host[:, 1::2] == -7.0)
    with pytest.raises(ValueError, match="out"):
        w.grad(d(z), d(x), out=cuda().device_array((4, 5)))
    with pytest.raises(TypeError, match="out"):
        w.grad(d(z), d(x), out=np.empty((4, 6)))


def test_host_array_among_device_arrays_is_named():
    z, x = data(8, np.float32)
    with pytest.raises(TypeError, match="labels is a host array"):
        w.loss(z, cuda().to_device(x))
    with pytest.raises(TypeError, match="pos_weight is a host array"):
        w.loss(cuda().to_device(z), cuda().to_device(x), np.ones(8, np.float32))


def test_explicit_stream():
    z, x = data(50, np.float32)
    stream = cuda().stream()
    r = w.loss(cuda().to_device(z), cuda().to_device(x), 3.0, stream=stream)
    stream.synchronize()
    assert_close(r, w.loss(z, x, 3.0), np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", FUNCS)
def test_vectorize_ufuncs(name, dtype):
    z, x = data(40, dtype)
    q = np.full(40, 2.0, dtype)
    ufunc = getattr(w.cuda, name)
    r = ufunc(*(cuda().to_device(a) for a in (z, x, q)))
    assert_close(r, getattr(w, name)(z, x, q), dtype, larger_term(name, z, x, q))


def test_exact_limits_on_the_device():
    inf = np.inf
    z = np.array([0, 1, 0, 1], np.float32)
    x = np.array([inf, inf, -inf, -inf], np.float32)
    d = cuda().to_device
    np.testing.assert_array_equal(w.loss(d(z), d(x), 2.0).copy_to_host(), [inf, 0, 0, inf])
    np.testing.assert_array_equal(w.grad(d(z), d(x), 2.0).copy_to_host(), [1, 0, 0, -2])
    np.testing.assert_array_equal(w.hessian(d(z), d(x), 2.0).copy_to_host(), [0, 0, 0, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_reduction_kernel(reduction, dtype):
    z, x = data((300, 6), dtype)
    q = np.linspace(0.5, 4, 6).astype(dtype)
    weight = rng.random((300, 1)).astype(dtype)
    d = cuda().to_device
    value, grad = w.reduce_loss_and_grad(d(z), d(x), d(q), weight=d(weight),
                                         reduction=reduction, label_smoothing=0.1)
    want, want_grad = w.reduce_loss_and_grad(z, x, q, weight=weight, reduction=reduction,
                                             label_smoothing=0.1)
    assert cuda().is_cuda_array(value) and cuda().is_cuda_array(grad)
    got = value.copy_to_host()
    assert got.shape == np.shape(want) and got.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=rtol)
    np.testing.assert_allclose(grad.copy_to_host(), want_grad, rtol=rtol,
                               atol=rtol * np.abs(want_grad).max())
    assert float(w.reduce_loss(d(z), d(x), 2.0).copy_to_host()) == pytest.approx(
        float(w.reduce_loss(z, x, 2.0)), rel=rtol)


def test_gpu_example_under_the_simulator():
    import os
    import subprocess
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    code = ("import sys, runpy; sys.path.insert(0, %r); import cudasim_shim; "
            "cudasim_shim.apply(); runpy.run_path(%r, run_name='__main__')"
            % (here, os.path.join(here, "..", "examples", "gpu_example.py")))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, check=True, env=dict(os.environ, NUMBA_ENABLE_CUDASIM="1"))
    line = next(line for line in out.stdout.splitlines() if line.startswith("numba:"))
    device_value, cpu_value = float(line.split()[3]), float(line.split()[-1])
    assert abs(device_value - cpu_value) <= 1e-5 * cpu_value


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_kernel_for_per_class_vectors(dtype):
    z, x = data((37, 6), dtype)
    q = np.linspace(0.5, 4, 6).astype(dtype)
    d = cuda().to_device
    loss, grad = w.loss_and_grad(d(z), d(x), d(q))  # per-class pos_weight
    assert_close(loss, w.loss(z, x, q), dtype)
    assert_close(grad, w.grad(z, x, q), dtype, larger_term("grad", z, x, q))
    row_labels = z[0].copy()  # per-class labels too, on a 3-D output
    x3 = x.reshape(37, 1, 6).repeat(2, axis=1)
    assert_close(w.hessian(d(row_labels), d(x3), d(q)), w.hessian(row_labels, x3, q), dtype)
