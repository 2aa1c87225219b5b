"""The CPU primitives of ``_cpumath`` against 50-digit mpmath: relative error
bounds of exp(y) and log1p(e) that the scalar functions' accuracy rests on,
the exact scaling by SCALE, and the limits."""

import math

import mpmath
import numba
import numpy as np
import pytest

from wcel_numba import _cpumath

mpmath.mp.dps = 50


def _vectorized(fn, nargs):
    if nargs == 1:
        @numba.njit
        def run(a):
            out = np.empty_like(a)
            for i in range(a.size):
                out[i] = fn(a[i])
            return out
    else:
        @numba.njit
        def run(a, b):
            out = np.empty_like(a)
            for i in range(a.size):
                out[i] = fn(a[i], b[i])
            return out
    return run


def _relative_errors(got, exact):
    return np.array([abs((mpmath.mpf(float(g)) - e) / e) for g, e in zip(got, exact)])


# exp arguments: dense near 0, the reduction's interval edges, the far tail
# down to where exp(y) is subnormal (or, for exp_single, the clamp).
_Y = np.concatenate([-np.geomspace(1e-12, 700.0, 400), -np.linspace(0.0, 2.0, 101),
                     [-0.34657359, -0.34657360, -0.6931471805599453, -708.5, -745.0, -796.9]])
_E = np.concatenate([np.geomspace(1e-300, 1.0, 300), np.linspace(0.0, 1.0, 201)[1:],
                     [0.5, np.nextafter(0.5, 0), 5e-324, 1e-310]])


@pytest.mark.parametrize("name, bound, scale", [
    ("exp_scaled", 2.0 ** -52, _cpumath.SCALE),
    ("exp_single", 2.0 ** -28.5, 1.0),
])
def test_exp(name, bound, scale):
    y = _Y if name == "exp_scaled" else _Y[_Y > -700]
    got = _vectorized(getattr(_cpumath, name), 1)(y)
    exact = [mpmath.exp(mpmath.mpf(float(v))) * scale for v in y]
    errors = _relative_errors(got, exact)
    worst = int(np.argmax(errors))
    assert errors[worst] <= bound, (y[worst], got[worst], errors[worst])


@pytest.mark.parametrize("name, bound, scale", [
    ("log1p_scaled", 2.0 ** -52, _cpumath.SCALE),
    ("log1p_single", 2.0 ** -24.8, 1.0),
])
def test_log1p(name, bound, scale):
    e = _E
    # the pair (e, e * scale) as the scalar functions pass it: e * scale is
    # exact, also where e is subnormal
    got = _vectorized(getattr(_cpumath, name), 2)(e, np.array([v * scale for v in e]))
    exact = [mpmath.log1p(mpmath.mpf(float(v))) * scale for v in e]
    errors = _relative_errors(got, exact)
    worst = int(np.argmax(errors))
    assert errors[worst] <= bound, (e[worst], got[worst], errors[worst])


def test_log1p_single_is_exact_where_e_is_tiny():
    # log1p(e) rounds to e once e < 2**-53: the polynomial's constant term
    # must be exactly 1 (a fit with 1 - 3e-8 there misrounded the loss
    # 5.04e-26 at logit -58.25 by one float32 ULP).
    e = np.geomspace(1e-300, 2.0 ** -54, 200)
    got = _vectorized(_cpumath.log1p_single, 2)(e, e)
    np.testing.assert_array_equal(got, e)


def test_exp_limits_and_cut():
    exp_scaled = _vectorized(_cpumath.exp_scaled, 1)
    got = exp_scaled(np.array([0.0, -math.inf, -797.5, -1e300]))
    assert got[0] == _cpumath.SCALE
    assert list(got[1:]) == [0.0, 0.0, 0.0]
    exp_single = _vectorized(_cpumath.exp_single, 1)
    got = exp_single(np.array([0.0, -math.inf, -1e300]))
    assert got[0] == pytest.approx(1.0, rel=2.0 ** -28)
    # clamped at -700: a normal number, far below every float32 result's reach
    assert 0.0 < got[1] == got[2] <= math.exp(-699.0)
