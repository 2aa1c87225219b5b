"""Accuracy against a 50-digit mpmath reference, through every CPU path.

Bounds: 2 ULP in float32, 4 ULP in float64 (of the exact value, or of the
larger term where the value is a difference of two terms).  The grid spans
logits from the smallest subnormal to the overflow edge, both signs, and 0;
hard and soft labels; pos_weight from 0 to 1000.
"""

import itertools
import math

import numpy as np
import pytest
import reference

import wcel_numba
from wcel_numba import _host

FUNCTIONS = ("loss", "grad", "grad_labels", "hessian")
BOUND = {np.float32: 2.0, np.float64: 4.0}
DTYPES = (np.float32, np.float64)


def _check(got, ref, dtype, path):
    __, x, __, hi, lo, unit = ref
    err = reference.ulp_errors(got, hi, lo, unit)
    worst = int(np.argmax(err))
    assert got.dtype == dtype, path
    assert err[worst] <= BOUND[dtype], (
        f"{path}: {err[worst]:.2f} ULP at logits={x[worst]!r}: got {got[worst]!r}, "
        f"exact {hi[worst]!r}")


def _by_pos_weight(name, dtype):
    """The reference grid reshaped to (labels x logits, pos_weights)."""
    z, x, q, hi, lo, unit = reference.table(name, dtype)
    ncols = len(reference.POS_WEIGHTS)
    return [a.reshape(-1, ncols) for a in (z, x, q, hi, lo, unit)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_ufunc(name, dtype):
    z, x, q, *rest = ref = reference.table(name, dtype)
    _check(getattr(wcel_numba.cpu, name)(z, x, q), ref, dtype, "cpu ufunc")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_extreme_pos_weight(name, dtype):
    """pos_weight near both ends of the dtype's range, against tails of
    exp(-|x|) down to the subnormals: no spurious overflow, no precision
    lost to an intermediate that underflows."""
    big = 1e300 if dtype == np.float64 else 1e34  # times 744.5 stays finite
    logits = [-744.5, -740.0, -100.0, -40.0, -2.0, 0.0, 2.0, 40.0, 100.0, 740.0]
    points = itertools.product((1.0, 0.3), logits, (big, 1 / big, 2e3))
    z, x, q, *rest = ref = reference.exact_table(name, dtype, points)
    _check(getattr(wcel_numba, name)(z, x, q), ref, dtype, "extreme pos_weight")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_scalar_pos_weight(name, dtype):
    z, x, q, hi, lo, unit = _by_pos_weight(name, dtype)
    for j in range(q.shape[1]):
        got = getattr(wcel_numba, name)(z[:, j].copy(), x[:, j].copy(), float(q[0, j]))
        _check(got, (z[:, j], x[:, j], q[:, j], hi[:, j], lo[:, j], unit[:, j]),
               dtype, f"scalar pos_weight={q[0, j]}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_per_class_pos_weight(name, dtype):
    z, x, q, hi, lo, unit = _by_pos_weight(name, dtype)
    got = getattr(wcel_numba, name)(z, x, q[0])  # rows loop: q of shape (C,)
    _check(got.ravel(), [a.ravel() for a in (z, x, q, hi, lo, unit)], dtype, "per-class")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_strided_broadcast_and_out(name, dtype):
    z, x, q, hi, lo, unit = _by_pos_weight(name, dtype)
    # Fortran-ordered copies reversed along an axis: the general ufunc path.
    zr, xr = np.asfortranarray(z)[::-1], np.asfortranarray(x)[::-1]
    out = np.zeros((2 * z.shape[0], z.shape[1]), dtype)[::2]
    getattr(wcel_numba, name)(zr, xr, q[:1], out=out)
    _check(out[::-1].ravel(), [a.ravel() for a in (z, x, q, hi, lo, unit)], dtype,
           "strided + out")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_parallel_loops(name, dtype, monkeypatch):
    # every new output here also has its pages mapped first, as large outputs do
    monkeypatch.setattr(_host, "MAP_PAGES_MIN_BYTES", 0)
    z, x, q, hi, lo, unit = _by_pos_weight(name, dtype)
    reps = _host.PARALLEL_MIN_SIZE // z.size + 2
    tiled = [np.tile(a, (reps, 1)) for a in (z, x, q, hi, lo, unit)]
    fn = getattr(wcel_numba, name)
    # flat loop, all operands full arrays
    _check(fn(tiled[0], tiled[1], tiled[2]).ravel(), [a.ravel() for a in tiled],
           dtype, "parallel flat")
    # rows loop, per-class pos_weight
    _check(fn(tiled[0], tiled[1], q[0]).ravel(), [a.ravel() for a in tiled],
           dtype, "parallel rows")
    # flat loop, scalar pos_weight
    col = [np.ascontiguousarray(a[:, 3]) for a in tiled]
    _check(fn(col[0], col[1], float(q[0, 3])), col, dtype, "parallel scalar")


@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_and_grad_is_bit_identical(dtype):
    z, x, q, *__ = reference.table("loss", dtype)
    for pos_weight in (q, 3.0):
        loss, grad = wcel_numba.loss_and_grad(z, x, pos_weight)
        np.testing.assert_array_equal(loss, wcel_numba.loss(z, x, pos_weight))
        np.testing.assert_array_equal(grad, wcel_numba.grad(z, x, pos_weight))
        assert loss.dtype == grad.dtype == dtype


def test_tensorflow_gradient_bug_at_zero_is_not_reproduced():
    # TF differentiates through abs/relu and gets 0.7 here; the truth is
    # (1 - z)/2 - q z/2 = 0.35 - 0.45 = -0.1.
    got = wcel_numba.grad(np.float32(0.3), np.float32(0.0), np.float32(3.0))
    assert got == np.float32(0.7 * 0.5 - 3 * np.float32(0.3) * 0.5)
    assert abs(float(got) + 0.1) < 1e-7


def test_tail_where_tf_and_torch_return_zero():
    got = wcel_numba.loss(np.float32(0), np.float32(-58.25), 1.0)
    assert got.dtype == np.float32
    assert got == np.float32(math.exp(-58.25))  # 5.04e-26, correctly rounded
