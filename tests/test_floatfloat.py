"""The CUDA float32 kernels' arithmetic, run on the CPU.

The float32 CUDA kernels compute in float-float pairs of float32 numbers
(``wcel_numba._floatfloat``) from nothing but float32 operations and FMAs,
which give the same bits on any IEEE machine.  Compiled here for the CPU
with ``_cpumath.fma`` (llvm.fma.f32), the very scalar definitions the GPU
runs are checked against the 50-digit mpmath reference on the full grid --
thousands of points, where the CUDA simulator could afford a few hundred.
Bound: 2 ULP, as for every float32 result.
"""

import itertools

import numba
import numpy as np
import pytest
import reference

from wcel_numba import _cpumath, _floatfloat
from wcel_numba._scalar import ELEMENTWISE, build_scalar_functions

BOUND = 2.0
_jit = numba.njit(inline="always")
_functions = build_scalar_functions(_jit, _floatfloat.float_float_arithmetic(_jit, _cpumath.fma))


def ufunc(name):
    fn = getattr(_functions, name)
    return numba.vectorize(["float32(float32, float32, float32)"])(
        lambda labels, logits, pos_weight: fn(labels, logits, pos_weight))


def check(name, table):
    z, x, q, hi, lo, unit = table
    with np.errstate(invalid="ignore"):  # inf - inf in the guards of the error terms
        got = ufunc(name)(z, x, q)
    err = reference.ulp_errors(got, hi, lo, unit)
    worst = int(np.argmax(err))
    assert err[worst] <= BOUND, (
        f"{err[worst]:.2f} ULP at labels={z[worst]!r}, logits={x[worst]!r}, "
        f"pos_weight={q[worst]!r}: got {got[worst]!r}, exact {hi[worst]!r}")


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_grid(name):
    check(name, reference.table(name, np.float32))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_random_soft_labels_and_weights(name):
    rng = np.random.default_rng(5)
    n = 1500
    points = zip(rng.random(n), rng.standard_normal(n) * 20, rng.exponential(3.0, n))
    check(name, reference.exact_table(name, np.float32, points))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_extreme_pos_weight(name):
    """pos_weight up to 1e34 against exp(-|x|) far below the float32
    subnormals: the scaled primitives keep e's precision."""
    logits = [-160.0, -150.0, -120.0, -100.0, -40.0, -2.0, 0.0, 2.0, 40.0, 100.0, 150.0]
    points = itertools.product((1.0, 0.3), logits, (1e34, 1e-34, 2e3))
    check(name, reference.exact_table(name, np.float32, points))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_limits_and_nan(name):
    inf, nan = np.inf, np.nan
    z = np.float32([0.0, 1.0, 0.3, 0.3, 0.0, 0.3, 0.3])
    x = np.float32([inf, -inf, inf, -inf, 0.0, nan, 1.0])
    q = np.float32([2.0, 2.0, 2.0, 2.0, 0.0, 2.0, nan])
    expected = {
        "loss": [inf, inf, inf, inf, np.log(2), nan, nan],
        "grad": [1.0, -2.0, 0.7, -0.6, 0.5, nan, nan],
        "grad_labels": [-inf, inf, -inf, inf, -np.log(2), nan, nan],
        "hessian": [0.0, 0.0, 0.0, 0.0, 0.25, nan, nan],
    }[name]
    with np.errstate(invalid="ignore"):
        got = ufunc(name)(z, x, q)
    np.testing.assert_allclose(got, np.float32(expected), rtol=2 ** -23)


def pair(value):
    """An mpf as a float-float pair of float32."""
    hi = np.float32(float(value))
    return hi, np.float32(float(value - float(hi)))


def test_primitives_against_mpmath():
    """exp_scaled and log1p_scaled to 2**-27 relative (the float32 ULP is
    2**-24): the hi + lo pair, not its rounding -- down to |y| = 150, where
    the trailing part of exp(y) * SCALE (2**-24 of it) is still normal."""
    import mpmath
    arithmetic = _floatfloat.float_float_arithmetic(numba.njit, _cpumath.fma)
    exp_scaled, log1p_scaled = arithmetic.exp_scaled, arithmetic.log1p_scaled
    scale = mpmath.mpf(2) ** _floatfloat.SCALE_EXPONENT
    ys = np.float32(-np.concatenate([np.geomspace(1e-30, 150.0, 3000), [0.0, 0.3466, 87.5]]))
    worst_exp = worst_log1p = 0.0
    for y in ys:
        hi, lo = exp_scaled((y, np.float32(0)))
        exact = mpmath.exp(mpmath.mpf(float(y))) * scale
        worst_exp = max(worst_exp, abs((mpmath.mpf(float(hi)) + float(lo)) / exact - 1))
        e = mpmath.exp(mpmath.mpf(float(y)))
        if e < 2.0 ** -120:
            continue
        e_pair, e_scaled = pair(e), pair(e * scale)
        hi, lo = log1p_scaled(e_pair, e_scaled)
        exact = mpmath.log1p(mpmath.mpf(float(e_pair[0])) + float(e_pair[1])) * scale
        worst_log1p = max(worst_log1p, abs((mpmath.mpf(float(hi)) + float(lo)) / exact - 1))
    assert worst_exp < 2.0 ** -27, float(mpmath.log(worst_exp, 2))
    assert worst_log1p < 2.0 ** -27, float(mpmath.log(worst_log1p, 2))


def test_simulator_fma_is_rounded_once():
    """The CUDA simulator's cuda.fma (tests/cudasim_shim.py), which the
    float-float arithmetic relies on under the simulator, against exact
    rational arithmetic -- error-free products, random sums and the
    double-rounding ties that a float64 evaluation alone would get wrong."""
    from fractions import Fraction

    from cudasim_shim import fused_multiply_add

    def exact(a, b, c):
        value = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
        candidates = [np.float32(float(value))]
        candidates += [np.nextafter(candidates[0], np.float32(s * np.inf)) for s in (-1, 1)]
        return min(candidates, key=lambda v: (abs(Fraction(float(v)) - value),
                                              int(v.view(np.int32)) % 2))

    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3000)).astype(np.float32)
    sums = (rng.standard_normal(3000) * 2.0 ** rng.integers(-40, 40, 3000)).astype(np.float32)
    cases = [(x, y, -np.float32(x * y)) for x, y in zip(a, b)]
    cases += list(zip(a, b, sums))
    tie = np.float32(1 + 2 ** -12)  # tie * tie lies halfway between two float32
    cases += [(tie, s * tie, np.float32(t * 2.0 ** -80)) for s in (1, -1) for t in (1, -1, 0)]
    for x, y, c in cases:
        got = fused_multiply_add(x, y, c)
        assert type(got) is np.float32 and got == exact(x, y, c), (x, y, c, got)
