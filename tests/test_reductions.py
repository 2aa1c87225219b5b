"""Fused reductions, the PyTorch-style entry point, and Dask."""

import math

import numpy as np
import pytest

import wcel_numba as w

rng = np.random.default_rng(5)


def batch(shape=(400, 7), dtype=np.float64):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    z = rng.choice([0.0, 1.0, 0.25], shape).astype(dtype)
    q = np.linspace(0.5, 6, shape[-1]).astype(dtype)
    weight = rng.random((shape[0], 1)).astype(dtype)
    return z, x, q, weight


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_reductions_against_numpy(reduction, smoothing):
    z, x, q, weight = batch()
    zs = z * (1 - smoothing) + smoothing / 2
    elementwise = weight * w.loss(zs, x, q)
    want = {"mean": elementwise.mean(), "sum": elementwise.sum(), "none": elementwise}[reduction]
    got, grad = w.reduce_loss_and_grad(z, x, q, weight=weight, reduction=reduction,
                                       label_smoothing=smoothing)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(w.reduce_loss(z, x, q, weight=weight, reduction=reduction,
                                             label_smoothing=smoothing), want, rtol=1e-13)
    scale = 1 / z.size if reduction == "mean" else 1.0
    np.testing.assert_allclose(grad, weight * scale * w.grad(zs, x, q), rtol=1e-13)


def test_gradient_is_the_derivative_of_the_reduced_loss():
    z, x, q, weight = batch((6, 3))
    __, grad = w.reduce_loss_and_grad(z, x, q, weight=weight)
    h = 1e-6
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        fd = (w.reduce_loss(z, xp, q, weight=weight) - w.reduce_loss(z, xm, q, weight=weight)) / (2 * h)
        assert grad[i] == pytest.approx(fd, rel=1e-5, abs=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reduction_does_not_depend_on_the_number_of_threads(dtype, monkeypatch):
    import numba

    from wcel_numba import _host
    z, x, q, weight = batch((3000, 70), dtype)  # 51 blocks, the last one partial
    # every operand full-size and contiguous: the one-pass (flat) loop
    q, weight = (np.ascontiguousarray(np.broadcast_to(v, z.shape)) for v in (q, weight))
    monkeypatch.setattr(_host, "PARALLEL_MIN_SIZE", 1)
    results = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            results.append(w.reduce_loss_and_grad(z, x, q, weight=weight, reduction="sum"))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    (one, grad_one), (two, grad_two) = results
    assert one == two
    np.testing.assert_array_equal(grad_one, grad_two)
    # and the sum is the float64 sum of the elementwise weighted losses
    exact = math.fsum((weight * w.loss(z.astype(np.float64), x.astype(np.float64), q)).ravel())
    assert abs(float(one) - exact) <= 4e-16 * 210_000 ** 0.5 * exact + float(np.spacing(dtype(exact)))


def test_float32_sum_of_1e7_elements_is_exact_to_float32_rounding():
    n = 10_000_000
    x = rng.standard_normal(n).astype(np.float32) * 4
    z = (rng.random(n) < 0.2).astype(np.float32)
    got = w.reduce_loss(z, x, 3.0, reduction="sum")
    assert got.dtype == np.float32
    exact = math.fsum(w.loss(z.astype(np.float64), x.astype(np.float64), 3.0))
    assert abs(float(got) - exact) <= 0.5 * float(np.spacing(np.float32(exact)))
    # float64 data: pairwise block sums stay far below the 4-ULP elementwise bound
    got64 = w.reduce_loss(z.astype(np.float64), x.astype(np.float64), 3.0, reduction="sum")
    assert abs(got64 - exact) <= 1e-13 * exact


def test_only_the_gradient_is_full_size():
    import tracemalloc
    z, x, q, weight = batch((100_000, 10), np.float32)
    w.reduce_loss_and_grad(z, x, q, weight=weight)
    tracemalloc.start()
    try:
        w.reduce_loss_and_grad(z, x, q, weight=weight)
        __, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= x.nbytes + 2 * 2**20


def test_reduction_errors_name_the_argument():
    z, x, q, weight = batch((4, 3))
    with pytest.raises(ValueError, match="reduction"):
        w.reduce_loss(z, x, reduction="max")
    with pytest.raises(ValueError, match="label_smoothing"):
        w.reduce_loss(z, x, label_smoothing=1.5)
    with pytest.raises(ValueError, match="weight"):
        w.reduce_loss(z, x, weight=np.ones(5))
    with pytest.raises(TypeError, match="weight"):
        w.reduce_loss(z, x, weight=np.array(["a"]))


def test_empty_mean_is_nan_and_sum_is_zero():
    e = np.zeros((0, 3))
    assert np.isnan(w.reduce_loss(e, e))
    assert w.reduce_loss(e, e, reduction="sum") == 0.0


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits_matches_pytorch(reduction):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    z, x, q, weight = (torch.from_numpy(a) for a in batch())
    x.requires_grad_(True)
    want = F.binary_cross_entropy_with_logits(x, z, weight=weight, pos_weight=q,
                                              reduction=reduction)
    got = w.binary_cross_entropy_with_logits(x, z, weight=weight, pos_weight=q,
                                             reduction=reduction)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    # PyTorch's formula cancels for soft labels and small losses: its own
    # error is ~1e-11 relative there, hence the absolute tolerance.
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-14)
    # without weight and pos_weight
    np.testing.assert_allclose(w.binary_cross_entropy_with_logits(x, z, reduction=reduction),
                               F.binary_cross_entropy_with_logits(
                                   x, z, reduction=reduction).detach().numpy(),
                               rtol=1e-12, atol=1e-14)
    if reduction != "none":
        want.backward()
        __, grad = w.reduce_loss_and_grad(z, x, q, weight=weight, reduction=reduction)
        # PyTorch's backward cancels for soft labels: compare at its precision
        np.testing.assert_allclose(grad.numpy(), x.grad.numpy(), rtol=1e-9, atol=1e-15)


# --- Dask ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_on_a_two_process_cluster(dask_client):
    import dask.array as da
    z, x, q, weight = batch((2000, 7))
    Z, X = da.from_array(z, chunks=(300, 7)), da.from_array(x, chunks=(500, 4))
    W = da.from_array(weight, chunks=(700, 1))
    lazy = w.grad(Z, X, q)
    assert isinstance(lazy, da.Array) and lazy.npartitions > 1
    np.testing.assert_array_equal(lazy.compute(), w.grad(z, x, q))
    loss, grad = w.loss_and_grad(Z, X, q)
    np.testing.assert_array_equal(loss.compute(), w.loss(z, x, q))
    for reduction in ("mean", "sum"):
        value, g = w.reduce_loss_and_grad(Z, X, q, weight=W, reduction=reduction,
                                          label_smoothing=0.1)
        assert isinstance(value, da.Array) and isinstance(g, da.Array)
        want, want_grad = w.reduce_loss_and_grad(z, x, q, weight=weight, reduction=reduction,
                                                 label_smoothing=0.1)
        assert float(value.compute()) == pytest.approx(float(want), rel=1e-13)
        np.testing.assert_allclose(g.compute(), want_grad, rtol=1e-14)
    none = w.reduce_loss(Z, X, q, weight=W, reduction="none")
    np.testing.assert_allclose(none.compute(), weight * w.loss(z, x, q), rtol=1e-15)
