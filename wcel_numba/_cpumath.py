"""Branch-free ``exp`` and ``log1p`` for the CPU target, in plain Numba.

PyPI's numba has no SVML, so ``math.exp`` and ``math.log1p`` are opaque
libm calls that stop LLVM from vectorizing a loop.  The functions here are
written only with arithmetic, comparisons (which LLVM turns into selects), a
fused multiply-add and bit casts, so a loop that calls them vectorizes to
AVX2/AVX-512.

They work in float64.  Those for float64 results return their results
multiplied by ``SCALE`` = 2**128, so that exp(y) stays a normal number down
to y = -797 (a subnormal e = exp(-|x|) would keep too few bits for a result
like 1000 * e, which is normal again):

* ``exp_scaled(y)`` = exp(y) * SCALE for y <= 0 (exactly 0 below -797 and at
  -inf) and ``log1p_scaled(e, e_scaled)`` = log(1 + e) * SCALE for
  0 <= e <= 1 given e and e * SCALE: accurate to about one unit in the last
  place (ULP) of a double -- for float64 results;
* ``exp_single``, ``log1p_single``: relative error below 2**-28.5 and
  2**-24.8, inside one float32 ULP (2**-24), with short minimax polynomials
  (``benchmarks/fit_polynomials.py``), log1p without a division, and no
  scaling (float32 results never need it) -- for results rounded to float32,
  which this makes about 1.8x faster.

The power of two is applied by adding to the exponent field, one integer add
instead of two multiplications.  Accuracy: ``tests/test_primitives.py``
(against mpmath) and ``tests/test_accuracy.py`` (the results).

NaN is *not* propagated by ``exp_scaled`` (it gives 0); the scalar functions
in ``_scalar.py`` restore NaN explicitly.
"""

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ._scalar import horner


@intrinsic
def fma(typingctx, a, b, c):
    """Fused multiply-add a*b + c, rounded once (``llvm.fma``): in float32
    when all three are float32, else in float64."""
    if not all(isinstance(t, (types.Float, types.Integer)) for t in (a, b, c)):
        return None
    single = all(t == types.float32 for t in (a, b, c))
    real = types.float32 if single else types.float64
    sig = real(a, b, c)

    def codegen(context, builder, signature, args):
        vals = [context.cast(builder, v, t, real) for v, t in zip(args, signature.args)]
        llvm_type = ir.FloatType() if single else ir.DoubleType()
        fn = builder.module.declare_intrinsic(
            "llvm.fma", [llvm_type], ir.FunctionType(llvm_type, [llvm_type] * 3))
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
_LN2 = 0.6931471805599453

#: Results are scaled by 2**SCALE_EXPONENT.
SCALE_EXPONENT = 128
SCALE = 2.0 ** SCALE_EXPONENT
# exp(y) * SCALE = p * 2**(k + 128) with k = round(y / ln2) is a normal number
# (k + 128 >= -1022) for y >= _EXP_CUT; below, exp_scaled returns 0.
_EXP_CUT = -797.0
# Rounds to k + SCALE_EXPONENT instead of k.
_SCALED_SHIFTER = _ROUND_SHIFTER + SCALE_EXPONENT

# Near-minimax fits of relative error from benchmarks/fit_polynomials.py,
# highest degree first.  For float64 results: g(r) = (exp(r) - 1 - r)/r**2 on
# |r| <= ln2/2, degree 9, 2**-51 (damped by r**2/exp(r) <= 0.17 in exp); and
# P(t) = (2 atanh(s) - 2 s)/s**3, t = s**2 in [0, 0.04], degree 7, 2**-52
# (damped by s**2 in log1p).
_EXP_DOUBLE = (
    2.5068143647221712e-08, 2.7620034081809265e-07, 2.755735555109886e-06,
    2.4801521422750238e-05, 0.00019841269784648798, 0.0013888888917121393,
    0.008333333333356199, 0.041666666666624344, 0.16666666666666644,
    0.5000000000000001)
_ATANH_DOUBLE = (
    0.13604787469925064, 0.13210252529317099, 0.1538884060946748, 0.18181738293143193,
    0.22222223040066066, 0.2857142856732416, 0.4000000000000784, 0.6666666666666666)
# For float32 results: exp(r) on |r| <= ln2/2, degree 6, 2**-29.0; and
# log1p(e) = e (1 + e Q(e)) on [0, 1], Q of degree 7, 2**-24.8 (fitted to the
# error of log1p, which damps Q's; exactly e for tiny e, unlike an
# unconstrained fit of log1p(e)/e, whose constant term is off by 2**-25 and
# misrounds the far tail; 2**-24.8 + 2**-29 still rounds to at most ~1.1 ULP).
_EXP_SINGLE = (
    0.0013836810633828312, 0.008374815606197478, 0.04166822620104061,
    0.1666642017281409, 0.49999992077013333, 1.000000036322314, 1.0000000005543481)
_LOG1P_SINGLE = (
    0.005364068704169096, -0.03006277000592828, 0.07919962873087996,
    -0.13753388186129298, 0.19153461944904612, -0.2485711521488812,
    0.3332131677636348, -0.4999964771896852)

_jit = numba.njit(inline="always", error_model="numpy")


_horner = horner(_jit, fma)


@_jit
def _add_to_exponent(p, shifted):
    """p * 2**n, for p in [1/2, 2) and the integer n held in the low bits of
    ``shifted`` (= y/ln2 + a round shifter): shifting the representation of
    ``shifted`` left by 52 leaves exactly n << 52 (the shifter's own bits
    shift out), which is added to p's exponent field."""
    return _int64_to_float64_bits(
        _float64_to_int64_bits(p) + (_float64_to_int64_bits(shifted) << 52))


def _at_minus(coefficients):
    """The coefficients (highest degree first) of p(-t), for p's."""
    top = len(coefficients) - 1
    return tuple(c if (top - i) % 2 == 0 else -c for i, c in enumerate(coefficients))


# The polynomials are evaluated at -r (r <= 0 mostly, as y <= 0): written in
# m = -y, the reduction needs no negated operand, which LLVM would otherwise
# materialize with an extra instruction per vector.
_EXP_DOUBLE_AT_MINUS = _at_minus(_EXP_DOUBLE)
_EXP_SINGLE_AT_MINUS = _at_minus(_EXP_SINGLE)


@_jit
def exp_scaled(y):
    """exp(y) * SCALE for y <= 0, without branches; 0 below _EXP_CUT.

    Cody-Waite reduction y = k*ln2 + r with |r| <= ln2/2 (the shifter also
    adds SCALE_EXPONENT to k) and exp(r) = 1 + r + r**2 g(r), g a degree-9
    polynomial evaluated with FMAs -- all in m = -y and t = -r (the callers'
    y = -|x| then costs no sign operation)."""
    m = -y
    clamped = m if m < -_EXP_CUT else -_EXP_CUT
    shifted = fma(clamped, -_LOG2E, _SCALED_SHIFTER)
    kf = shifted - _SCALED_SHIFTER
    t = fma(kf, _LN2_LO, fma(kf, _LN2_HI, clamped))
    p = 1.0 - fma(t * t, -_horner(t, _EXP_DOUBLE_AT_MINUS), t)
    scaled = _add_to_exponent(p, shifted)
    return scaled if m <= -_EXP_CUT else 0.0


@_jit
def exp_single(y):
    """exp(y) for y <= 0 to 2**-29 relative: degree-6 minimax, unscaled,
    in m = -y and t = -r like ``exp_scaled``.

    y is clamped to >= -700, where exp(y) is still a normal double: below,
    every float32 result that uses e (at most 2**256 * e, as labels and
    pos_weight are float32) rounds to 0 whether e is exact or not."""
    m = -y
    clamped = m if m < 700.0 else 700.0
    shifted = fma(clamped, -_LOG2E, _ROUND_SHIFTER)
    t = fma(shifted - _ROUND_SHIFTER, _LN2, clamped)
    return _add_to_exponent(_horner(t, _EXP_SINGLE_AT_MINUS), shifted)


@_jit
def log1p_scaled(e, e_scaled):
    """log(1 + e) * SCALE for 0 <= e <= 1 (e_scaled = e * SCALE), without
    branches.

    For e >= 1/2, 1 + e = 2 (1 + f) with f = (e - 1)/2 computed exactly;
    otherwise f = e.  Then log(1 + f) = f - s (f - R) with s = f / (2 + f)
    and 2 atanh(s) = 2 s + s R, R = s**2 P(s**2) with P of degree 7 (fdlibm's
    arrangement, so the leading term f is exact), with f and R scaled -- so a
    subnormal e loses nothing.
    """
    upper = e >= 0.5
    f = (e - 1.0) * 0.5 if upper else e
    f_scaled = f * SCALE if upper else e_scaled
    s = f / (2.0 + f)
    s2 = s * s
    r_scaled = (s2 * SCALE) * _horner(s2, _ATANH_DOUBLE)
    log1p_f = fma(-s, f_scaled - r_scaled, f_scaled)
    return (_LN2_HI * SCALE) + (log1p_f + _LN2_LO * SCALE) if upper else log1p_f


@_jit
def log1p_single(e, e_scaled):
    """log(1 + e) for 0 <= e <= 1 to 2**-24.8 relative, given e twice (the
    unscaled counterpart of ``log1p_scaled``): e (1 + e Q(e)) with Q a
    degree-7 polynomial -- no branch, no division, and exactly e where e Q(e)
    is below half an ULP of 1."""
    return e_scaled * fma(e, _horner(e, _LOG1P_SINGLE), 1.0)
