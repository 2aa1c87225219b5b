"""Float-float numbers in float32: the arithmetic of the CUDA float32 kernels.

A float32 kernel must not use double precision (consumer GPUs run it at
1/32 to 1/64 of the float32 rate), and float32 arithmetic alone cannot hold
the 2-ULP bound: the soft-label weights (1 - z) + q z, exp, log1p and the
final sum each round, and those roundings add up to about 4 ULP.  So the
float32 kernels carry every intermediate value as an unevaluated sum
hi + lo of two float32 numbers, normalized so that hi = fl(hi + lo) (about
44 bits), built from error-free transformations with the fused
multiply-add:

* two_sum(a, b) -> (s, t) with s + t = a + b exactly (Knuth);
* fast_two_sum(a, b), the same in three operations when |a| >= |b|
  (Dekker);
* two_product(a, b) -> (p, fma(a, b, -p)), p + that = a * b exactly;

and the value is rounded once, by ``result`` (which returns hi).  An
infinite or NaN leading part is kept with a zero trailing part, so inf and
NaN go through as in float32 (the error terms would be NaN).

``exp_scaled`` and ``log1p_scaled`` are float-float versions of the CPU
target's algorithms (Cody-Waite reduction with exp(r) = 1 + r + r**2/2 +
r**3 g(r); log1p(e) = 2 atanh(e / (2 + e))), each to 2**-27 relative or better,
with the polynomials of ``benchmarks/fit_polynomials.py``.  Their results are
scaled by 2**SCALE_EXPONENT, so e = exp(-|x|) keeps its precision far below
the float32 subnormals (a result like 1e30 * e is normal again).

Written only with float32 operations, this arithmetic gives the same bits
on any IEEE machine: ``tests/test_floatfloat.py`` compiles it for the CPU
and checks the results against mpmath on the full grid (on a GPU, NVVM may
fuse a multiply and an add of the non-error-free parts into one FMA, which
only removes a rounding).
"""

import math
from types import SimpleNamespace

import numpy as np

from ._scalar import horner

f32 = np.float32

#: Primitives' results are scaled by 2**SCALE_EXPONENT: e * scale is normal
#: down to e = 2**-246 (|x| <= 170), and its trailing part down to about
#: |x| = 154; products like scale * log(2) stay far below float32's maximum.
SCALE_EXPONENT = 120
SCALE = 2.0 ** SCALE_EXPONENT

_ZERO, _HALF, _ONE, _TWO, _THREE = f32(0.0), f32(0.5), f32(1.0), f32(2.0), f32(3.0)
_LOG2E = f32(1.4426950408889634)
# Adding 1.5 * 2**23 rounds a float32 of magnitude < 2**22 to an integer.
_ROUND_SHIFTER = f32(12582912.0)
# ln 2 = _LN2_HI + _LN2_LO + O(2**-48): _LN2_HI has 16 significant bits, so
# y - k * _LN2_HI is exact for the integers |k| <= 246 used here.
_LN2_HI = f32(0.693145751953125)
_LN2_LO = f32(1.4286067653302848e-06)
# Below, exp(y) * SCALE is taken as 0 (2**(k + SCALE_EXPONENT) would not be
# a normal float32).
_EXP_CUT = f32(-170.0)
# Below, log1p(e) = e (relative error e/2 < 2**-33).
_LOG1P_TINY = f32(2.0 ** -32)
# Near-minimax polynomials (benchmarks/fit_polynomials.py), highest degree
# first: g(r) = (exp(r) - 1 - r - r**2/2)/r**3 on |r| <= ln2/2, degree 4,
# 2**-24.4 relative (damped by r**3 <= 0.042); and R(t) = (2 atanh(s) -
# 2 s)/s**3 with t = s**2 in [0, 1/9], degree 4, 2**-26.6 (damped by t/2).
_EXP_TAIL = tuple(f32(c) for c in (
    0.00019861910029679073, 0.0013926154311538926, 0.00833334583597407,
    0.041666554858418386, 0.1666666662928636))
_ATANH_TAIL = tuple(f32(c) for c in (
    0.23233494539679517, 0.2170454750022301, 0.2859249803502008,
    0.3999970324666393, 0.666666673310894))


def float_float_arithmetic(jit, fma):
    """The arithmetic for ``_scalar.build_scalar_functions`` on float-float
    pairs (hi, lo) of float32, compiled with ``jit`` (a decorator making
    inlinable functions) and ``fma`` (a jitted float32 fused multiply-add,
    rounded once)."""

    _horner = horner(jit, fma)

    @jit
    def fast_two_sum(a, b):
        """(s, t): s = fl(a + b), s + t = a + b, for |a| >= |b| (or a = 0);
        (a, 0) when a is inf or NaN."""
        s = a + b
        if a - a != _ZERO:
            return a, _ZERO
        return s, b - (s - a)

    @jit
    def two_sum(a, b):
        """(s, t): s = fl(a + b), s + t = a + b exactly."""
        s = a + b
        b_part = s - a
        return s, (a - (s - b_part)) + (b - b_part)

    @jit
    def two_product(a, b):
        """(p, t): p = fl(a b), p + t = a b exactly (unless it underflows)."""
        p = a * b
        return p, fma(a, b, -p)

    @jit
    def real(v):
        return f32(v), _ZERO

    @jit
    def lead(a):
        return a[0]

    @jit
    def result(a):
        return a[0]

    @jit
    def neg(a):
        return -a[0], -a[1]

    @jit
    def absolute(a):
        return (-a[0], -a[1]) if a[0] < _ZERO else a

    @jit
    def add(a, b):
        """a + b to ~2**-44 relative, also when the two cancel."""
        s, s_err = two_sum(a[0], b[0])
        if s - s != _ZERO:
            return s, _ZERO
        t, t_err = two_sum(a[1], b[1])
        s, s_err = fast_two_sum(s, s_err + t)
        return fast_two_sum(s, s_err + t_err)

    @jit
    def sub(a, b):
        return add(a, neg(b))

    @jit
    def mul(a, b):
        """a * b to ~2**-44 relative."""
        p, p_err = two_product(a[0], b[0])
        if p - p != _ZERO:
            return p, _ZERO
        return fast_two_sum(p, fma(a[0], b[1], fma(a[1], b[0], p_err)))

    @jit
    def reciprocal(a):
        """1 / a for a >= 1: one division, then the residual 1 - r a."""
        r = _ONE / a[0]
        residual = fma(-r, a[0], _ONE) - r * a[1]
        return fast_two_sum(r, residual * r)

    @jit
    def exp_scaled(y):
        """exp(y) * SCALE for y = (y0, 0) with y0 <= 0; 0 below _EXP_CUT.

        y0 = k ln2 + r + d with r + d exact to 2**-44 (Cody-Waite, the
        rounding of k * _LN2_LO kept in d); exp(r) = 1 + r + r**2/2 +
        r**3 g(r), the first three terms summed exactly."""
        y0 = y[0]
        clamped = y0 if y0 > _EXP_CUT else _EXP_CUT
        k = fma(clamped, _LOG2E, _ROUND_SHIFTER) - _ROUND_SHIFTER
        exact = fma(-k, _LN2_HI, clamped)
        k_lo, k_lo_err = two_product(k, _LN2_LO)
        r, d = two_sum(exact, -k_lo)
        d = d - k_lo_err
        one_plus_r, err_1 = fast_two_sum(_ONE, r)
        half_r2, err_2 = two_product(r, _HALF * r)
        lead_sum, err_3 = two_sum(one_plus_r, half_r2)
        tail = (r * r * r) * _horner(r, _EXP_TAIL) + d * (_ONE + r)
        hi, lo = fast_two_sum(lead_sum, err_3 + (err_1 + err_2 + tail))
        power = math.ldexp(_ONE, int(k) + SCALE_EXPONENT)
        scaled = (hi * power, lo * power)
        return scaled if y0 >= _EXP_CUT else (_ZERO, _ZERO)

    @jit
    def log1p_scaled(e, e_scaled):
        """log(1 + e) * SCALE for 0 <= e <= 1 (e_scaled = e * SCALE):
        2 atanh(s) = 2 s + s**3 R(s**2), s = e / (2 + e) in float-float (one
        division and its residual)."""
        two_plus_e, d_err = fast_two_sum(_TWO, e[0])
        d_err = d_err + e[1]
        inverse = _ONE / two_plus_e
        s = e[0] * inverse
        s_err = (fma(-s, two_plus_e, e[0]) + (e[1] - s * d_err)) * inverse
        t = s * s
        poly = _horner(t, _ATANH_TAIL)
        # 2 atanh(s + s_err) = 2 s + s**3 R(s**2) + s_err (2 + 3 s**2 R) + ...
        hi, lo = fast_two_sum(_TWO * s, fma(s_err, fma(_THREE * t, poly, _TWO), (s * t) * poly))
        power = f32(SCALE)
        return e_scaled if e[0] < _LOG1P_TINY else (hi * power, lo * power)

    return SimpleNamespace(
        real=real, constant=lambda v: (f32(v), _ZERO), scale=SCALE, lead=lead,
        result=result, add=add, sub=sub, mul=mul, reciprocal=reciprocal, neg=neg,
        multiply_add=jit(lambda a, b, c: add(mul(a, b), c)),
        absolute=absolute, exp_scaled=exp_scaled, log1p_scaled=log1p_scaled)
