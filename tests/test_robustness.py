"""Properties (hypothesis), concurrency, processes, memory and large arrays."""

import multiprocessing
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import concurrency_worker
import wcel_numba as w

HERE = os.path.dirname(os.path.abspath(__file__))
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
FLOATS = st.sampled_from([np.float16, np.float32, np.float64])


def arrays(dtype, shape, **kw):
    return hnp.arrays(dtype, shape, elements=st.floats(width=np.dtype(dtype).itemsize * 8, **kw))


@st.composite
def operands(draw, unit_labels=False, finite=False):
    """(labels, logits, pos_weight) with broadcastable shapes, mixed dtypes,
    and strided or reversed views."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=5))
    dx = draw(FLOATS)
    label_dtype = draw(st.sampled_from([dx, np.bool_, np.int64, np.float64]))
    lab_kw = dict(min_value=0, max_value=1) if unit_labels else dict(allow_nan=not finite)
    if np.dtype(label_dtype).kind == "f":
        labels = draw(arrays(label_dtype, shapes.input_shapes[0], **lab_kw))
    else:
        labels = draw(hnp.arrays(label_dtype, shapes.input_shapes[0],
                                 elements=st.integers(0, 1)))
    logits = draw(arrays(dx, shapes.input_shapes[1], allow_nan=not finite,
                         allow_infinity=not finite))
    pos_weight = draw(arrays(np.float64, shapes.input_shapes[2], min_value=0, max_value=1e6))
    if draw(st.booleans()) and logits.ndim:
        logits = np.flip(logits, axis=-1)  # negative strides
    if draw(st.booleans()) and labels.ndim:
        labels = np.repeat(labels, 2, axis=-1)[..., ::2]  # non-contiguous
    return labels, logits, pos_weight


@SETTINGS
@given(operands(unit_labels=True))
def test_loss_and_hessian_are_non_negative(ops):
    labels, logits, pos_weight = ops
    with np.errstate(invalid="ignore"):
        for fn in (w.loss, w.hessian):
            r = np.asarray(fn(labels, logits, pos_weight))
            assert np.all((r >= 0) | np.isnan(r))
            assert not np.any(np.isnan(r) & ~np.isnan(np.asarray(logits, np.float64)))


@SETTINGS
@given(operands())
def test_shape_dtype_and_bit_identity(ops):
    labels, logits, pos_weight = ops
    shape = np.broadcast_shapes(np.shape(labels), np.shape(logits), np.shape(pos_weight))
    loss, grad = w.loss_and_grad(labels, logits, pos_weight)
    assert np.shape(loss) == shape == np.shape(grad)
    floats = [a.dtype for a in (labels, logits, pos_weight) if a.dtype.kind == "f"]
    assert np.asarray(loss).dtype == np.result_type(*floats)
    np.testing.assert_array_equal(loss, w.loss(labels, logits, pos_weight))
    np.testing.assert_array_equal(grad, w.grad(labels, logits, pos_weight))


@SETTINGS
@given(operands())
def test_fast_paths_equal_the_general_path(ops):
    labels, logits, pos_weight = ops
    fast = {f: f(*(np.ascontiguousarray(a) for a in ops)) for f in (w.loss, w.grad, w.hessian)}
    for f, got in fast.items():
        # the CPU ufunc with every input broadcast explicitly: the general path
        dtype = np.asarray(got).dtype
        compute = np.float32 if dtype.itemsize <= 4 else np.float64
        z, x, q = (np.asarray(a, compute) for a in np.broadcast_arrays(labels, logits, pos_weight))
        ref = getattr(w.cpu, f.__name__)(z, x, q).astype(dtype)
        np.testing.assert_array_equal(got, ref)


@SETTINGS
@given(st.floats(-30, 30), st.floats(0, 1), st.floats(0, 100))
def test_q1_is_plain_binary_cross_entropy(x, z, q):
    bce = z * np.logaddexp(0, -x) + (1 - z) * np.logaddexp(0, x)
    assert w.loss(z, x, 1.0) == pytest.approx(bce, rel=1e-14, abs=1e-300)


@SETTINGS
@given(st.floats(-30, 30), st.floats(0, 1), st.floats(0, 100))
def test_derivatives_match_central_differences(x, z, q):
    h = 1e-5 * max(1.0, abs(x))
    fd_x = (w.loss(z, x + h, q) - w.loss(z, x - h, q)) / (2 * h)
    assert w.grad(z, x, q) == pytest.approx(fd_x, rel=1e-5, abs=1e-9 * (1 + q))
    fd_xx = (w.grad(z, x + h, q) - w.grad(z, x - h, q)) / (2 * h)
    assert w.hessian(z, x, q) == pytest.approx(fd_xx, rel=1e-4, abs=1e-9 * (1 + q))
    hz = 1e-4
    fd_z = (w.loss(z + hz, x, q) - w.loss(z - hz, x, q)) / (2 * hz)
    scale = max(abs(q * np.logaddexp(0, -x)), abs(np.logaddexp(0, x)))
    assert w.grad_labels(z, x, q) == pytest.approx(fd_z, rel=1e-6, abs=1e-9 * scale)


# --- bad input -------------------------------------------------------------------

def test_wrong_number_of_arguments():
    with pytest.raises(TypeError):
        w.loss(np.zeros(2))
    with pytest.raises(TypeError):
        w.loss(np.zeros(2), np.zeros(2), 1.0, np.zeros(2))  # out is keyword-only


def test_ragged_list_names_the_argument():
    with pytest.raises(TypeError, match="logits"):
        w.loss([0.0, 1.0], [[1.0], [1.0, 2.0]])


# --- threads and processes -----------------------------------------------------------

def _layers():
    layers = ["workqueue", "omp"]
    try:
        import tbb  # noqa: F401
        layers.append("tbb")
    except ImportError:
        pass
    return layers


@pytest.mark.slow
@pytest.mark.parametrize("layer", _layers())
def test_eight_threads_bit_identical_under_each_threading_layer(layer):
    env = dict(os.environ, NUMBA_THREADING_LAYER=layer)
    result = subprocess.run([sys.executable, os.path.join(HERE, "concurrency_worker.py"), "3"],
                            env=env, capture_output=True, text=True, timeout=600)
    if result.returncode and "No threading layer could be loaded" in result.stderr:
        pytest.skip(f"{layer} is not available here")
    assert result.returncode == 0, result.stderr
    used, bad, calls = result.stdout.split()
    assert used == layer and bad == "0" and int(calls) >= 8 * 3  # every thread ran every case


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_workers(method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{method} is not available")
    # the parent runs a parallel loop first (what breaks GNU OpenMP after fork)
    z, x = concurrency_worker.make_inputs(200_000)
    w.loss(z, x, 2.5)
    jobs = [(200_000, 1), (50, 2), (100_000, 3)]
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as pool:
        results = pool.map(concurrency_worker.compute, jobs, chunksize=1)
    for job, (loss, grad) in zip(jobs, results):
        ref_loss, ref_grad = concurrency_worker.compute(job)
        np.testing.assert_array_equal(loss, ref_loss)
        np.testing.assert_array_equal(grad, ref_grad)


# --- memory ------------------------------------------------------------------------

def _rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    pytest.skip("no /proc/self/status")


def test_rss_stays_flat_over_10000_calls():
    z, x = concurrency_worker.make_inputs(20_000)
    q = np.linspace(0.5, 2, 100, dtype=np.float32)
    out = np.empty((2 * 200, 100), np.float32)[::2]

    def calls(n):
        for __ in range(n):
            w.loss_and_grad(z, x, 2.5)
            w.grad(z.reshape(200, 100), x.reshape(200, 100), q, out=out)
            w.hessian(z[::2], x[::2], 3)

    calls(200)  # warm up: compile, caches, allocator pools
    before = _rss_bytes()
    calls(10_000 // 3 + 1)
    assert _rss_bytes() - before < 4 * 2**20


@pytest.mark.parametrize("case", ["flat", "per-class", "ufunc", "strided out", "float16"])
def test_a_call_allocates_only_its_outputs(case):
    n = 1_000_000
    z, x = concurrency_worker.make_inputs(n)
    q = np.linspace(0.5, 2, 1000, dtype=np.float32)
    out = None
    if case == "flat":
        call = lambda: w.loss_and_grad(z, x, 2.5)  # noqa: E731
        outputs = 2 * 4 * n
    elif case == "per-class":
        call = lambda: w.loss(z.reshape(-1, 1000), x.reshape(-1, 1000), q)  # noqa: E731
        outputs = 4 * n
    elif case == "ufunc":
        call = lambda: w.grad(z[::-1], x, 2.5)  # noqa: E731
        outputs = 4 * n
    elif case == "strided out":
        out = np.empty(2 * n, np.float64)[::2]
        call = lambda: w.grad(z, x, 2.5, out=out)  # noqa: E731
        outputs = 0
    else:
        z16, x16 = z.astype(np.float16), x.astype(np.float16)
        call = lambda: w.loss(z16, x16, 2.5)  # noqa: E731
        outputs = 2 * n
    call()
    tracemalloc.start()
    try:
        call()
        __, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= outputs + 2 * 2**20, f"{case}: peak {peak} for {outputs} bytes of output"


# --- large arrays ---------------------------------------------------------------------

def _available_memory():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@pytest.mark.slow
def test_beyond_2_to_the_31_elements():
    rows, cols = 2**16 + 3, 2**15  # 2**31 + 98304 elements
    if _available_memory() < 14 * 2**30:
        pytest.skip("needs ~11 GiB of free memory")
    labels = np.zeros((rows, cols), np.int8)
    labels[-1, -5:] = 1
    logits = np.linspace(-4, 4, cols, dtype=np.float32)  # per-column: the rows loop
    out = w.loss(labels, logits, 2.0)
    assert out.shape == (rows, cols) and out.size > 2**31
    np.testing.assert_array_equal(out[-1], w.loss(labels[-1], logits, 2.0))
    np.testing.assert_array_equal(out[2**16], w.loss(labels[2**16], logits, 2.0))
    del out
