"""Branch-free ``exp`` and ``log1p`` for the CPU target, in plain Numba.

PyPI's numba has no SVML, so ``math.exp`` and ``math.log1p`` are opaque
libm calls that stop LLVM from vectorizing a loop.  The two functions here
are written only with arithmetic, comparisons (which LLVM turns into
selects), a fused multiply-add and a bit cast, so a loop that calls them
vectorizes to AVX2/AVX-512.

All work in float64 and come in two precisions:

* ``exp_nonpositive(y)`` = exp(y) for y <= 0 (including -inf; exact 0 below
  the subnormal range) and ``log1p_unit(e)`` = log(1 + e) for 0 <= e <= 1:
  accurate to about one unit in the last place (ULP) of a double -- for
  float64 results;
* ``exp_nonpositive_single``, ``log1p_unit_single``: relative error below
  2**-31, far inside one float32 ULP, with shorter polynomials (log1p as one
  polynomial, without a division: float64 division is the slowest vector
  instruction here) -- for results rounded to float32.  This makes float32
  loss about 1.5x faster than with the float64 primitives.

Accuracy of the results is measured against mpmath in
``tests/test_accuracy.py``.

NaN is *not* propagated by ``exp_nonpositive``; the scalar functions in
``_scalar.py`` restore NaN explicitly.
"""

import math

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def fma(typingctx, a, b, c):
    """Fused multiply-add a*b + c in float64, rounded once (``llvm.fma``)."""
    if not all(isinstance(t, (types.Float, types.Integer)) for t in (a, b, c)):
        return None
    sig = types.float64(a, b, c)

    def codegen(context, builder, signature, args):
        vals = [context.cast(builder, v, t, types.float64)
                for v, t in zip(args, signature.args)]
        double = ir.DoubleType()
        fn = builder.module.declare_intrinsic(
            "llvm.fma", [double], ir.FunctionType(double, [double] * 3))
        return builder.call(fn, vals)

    return sig, codegen


@intrinsic
def _int64_to_float64_bits(typingctx, i):
    """Reinterpret the 64 bits of an int64 as a float64."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        v = context.cast(builder, args[0], signature.args[0], types.int64)
        return builder.bitcast(v, ir.DoubleType())

    return types.float64(i), codegen


@intrinsic
def _float64_to_int64_bits(typingctx, x):
    """Reinterpret the 64 bits of a float64 as an int64."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):
        v = context.cast(builder, args[0], signature.args[0], types.float64)
        return builder.bitcast(v, ir.IntType(64))

    return types.int64(x), codegen


_LOG2E = 1.4426950408889634
# ln 2 split so that k * _LN2_HI is exact for |k| < 2**20 (fdlibm's split).
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# Adding 1.5 * 2**52 rounds a double of magnitude < 2**51 to an integer,
# which then sits in the low bits of the sum's representation.
_ROUND_SHIFTER = 6755399441055744.0
_SHIFTER_BITS = 0x4338000000000000

# Taylor coefficients 1/n! of exp, highest degree first: 13 terms leave a
# truncation below 2**-60 on |r| <= ln2/2, 8 terms below 2**-32.
_EXP_DOUBLE = tuple(1.0 / math.factorial(n) for n in range(13, 1, -1))
_EXP_SINGLE = tuple(1.0 / math.factorial(n) for n in range(8, 1, -1))

# Coefficients 2/(2j+1) of 2*atanh(s) = 2s + s*R(s^2), highest first; |s| <= 0.2
# here, so eleven terms leave a truncation below 2**-58 relative.
_ATANH_SERIES = tuple(2.0 / (2 * j + 1) for j in range(11, 0, -1))

_jit = numba.njit(inline="always", error_model="numpy")


@_jit
def _horner(x, coefficients):
    """The polynomial with these coefficients (highest degree first) at x,
    by Horner's rule with fused multiply-adds (a constant tuple: unrolled)."""
    p = coefficients[0]
    for c in coefficients[1:]:
        p = fma(x, p, c)
    return p


@_jit
def _exp_reduce(y):
    """(r, k) with y = k ln2 + r, |r| <= ln2/2 (y clamped to >= -746)."""
    y = y if y > -746.0 else -746.0
    shifted = fma(y, _LOG2E, _ROUND_SHIFTER)
    k = _float64_to_int64_bits(shifted) - _SHIFTER_BITS
    kf = shifted - _ROUND_SHIFTER
    return fma(-kf, _LN2_LO, fma(-kf, _LN2_HI, y)), k


@_jit
def _scale_by_power_of_two(p, k):
    """p * 2**k for k in [-1077, 0], as two exact factors so a subnormal
    result is rounded once."""
    k_half = k >> 1
    scale_1 = _int64_to_float64_bits((k_half + 1023) << 52)
    scale_2 = _int64_to_float64_bits((k - k_half + 1023) << 52)
    return (p * scale_1) * scale_2


@_jit
def exp_nonpositive_single(y):
    """exp(y) for y <= 0 to 2**-31 relative: degree-8 Taylor polynomial."""
    r, k = _exp_reduce(y)
    p = _horner(r, _EXP_SINGLE)
    p = fma(r * r, p, r) + 1.0
    return _scale_by_power_of_two(p, k)


# log1p(e)/e on [0, 1]: the degree-12 polynomial interpolating it at the
# Chebyshev nodes (fitted in 60-digit arithmetic); relative error 2**-35.4.
# Listed from the constant term up, stored highest degree first.
_LOG1P_SINGLE = tuple(reversed((
    0.9999999999785376, -0.499999992726098, 0.3333329204467681, -0.24999068541803812,
    0.19988934638908445, -0.16587094998578766, 0.13909859913312295, -0.11270121772120155,
    0.08212817261992637, -0.049102420489767325, 0.02162277662889297,
    -0.0060543815118333415, 0.0007950132275741071,
)))


@_jit
def log1p_unit_single(e):
    """log(1 + e) for 0 <= e <= 1 to 2**-35 relative: e times a polynomial,
    no branch and no division."""
    return e * _horner(e, _LOG1P_SINGLE)


@_jit
def exp_nonpositive(y):
    """exp(y) for y <= 0, without branches.

    Cody-Waite reduction y = k*ln2 + r with |r| <= ln2/2, a degree-13 Taylor
    polynomial for exp(r) evaluated with FMAs, and 2**k applied as two
    power-of-two factors built from bits, so subnormal results are rounded
    once.
    """
    r, k = _exp_reduce(y)
    p = _horner(r, _EXP_DOUBLE)
    p = fma(r * r, p, r) + 1.0
    return _scale_by_power_of_two(p, k)


@_jit
def log1p_unit(e):
    """log(1 + e) for 0 <= e <= 1, without branches.

    For e >= 1/2, 1 + e = 2 (1 + f) with f = (e - 1)/2 computed exactly;
    otherwise f = e.  Then log(1 + f) = f - s (f - R) with s = f / (2 + f)
    and 2 atanh(s) = 2 s + s R(s^2) (fdlibm's arrangement, so the leading
    term f is exact).
    """
    upper = e >= 0.5
    f = (e - 1.0) * 0.5 if upper else e
    s = f / (2.0 + f)
    s2 = s * s
    r = s2 * _horner(s2, _ATANH_SERIES)
    log1p_f = fma(-s, f - r, f)
    return _LN2_HI + (log1p_f + _LN2_LO) if upper else log1p_f
