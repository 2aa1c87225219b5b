"""Fit the polynomials of the primitives in ``_cpumath.py``.

Near-minimax fits of relative error (Lawson's iteratively reweighted least
squares on Chebyshev points, in 40-digit mpmath), then checked with the
float64 coefficients on a dense grid.  Prints the coefficient tuples (highest
degree first, as ``_cpumath._horner`` takes them) and log2 of the worst
relative error.  Run: ``python benchmarks/fit_polynomials.py``.

For float32 results:

* exp(r) on |r| <= ln2/2, degree 6: about 2**-29;
* log1p(e) = e (1 + e Q(e)) on 0 <= e <= 1, Q of degree 7 fitted to the
  relative error of log1p (Q's own error is damped by e**2/log1p(e)): about
  2**-24.8, and exactly e where e is tiny (an unconstrained degree-8 fit of
  log1p(e)/e is off by 2**-25 at e -> 0, which misrounds the far tail).

For float64 results (the check is limited by float64 evaluation, ~2**-52):

* (exp(r) - 1 - r)/r**2 on |r| <= ln2/2, degree 9: exp(r) = 1 + r + r**2 g(r),
  where g's error is damped by r**2/exp(r) <= 0.17;
* (2 atanh(s) - 2 s)/s**3 as a polynomial in t = s**2 on 0 <= t <= 0.04,
  degree 7: its error is damped by s**2 <= 0.04.

For the CUDA float32 kernels' float-float arithmetic (``_floatfloat.py``,
coefficients rounded to float32 there):

* (exp(r) - 1 - r - r**2/2)/r**3 on |r| <= ln2/2, degree 4: about 2**-24.4,
  damped by r**3 <= 0.042;
* (2 atanh(s) - 2 s)/s**3 in t = s**2 on 0 <= t <= 1/9, degree 4: about
  2**-26.6, damped by t/2.
"""

import mpmath
import numpy as np

mpmath.mp.dps = 50


def fit_relative(f, a, b, degree, points=300, iterations=20, damping=None):
    """Coefficients (lowest degree first, float64) and log2 of the largest
    error of a polynomial fitted to f on [a, b].  An error d in f at t
    changes the result by the relative amount damping(t) * d; the fit
    minimizes the largest of these, which is what it reports.  By default
    damping is 1/|f|: the relative error of f itself."""
    if damping is None:
        def damping(t):
            return 1 / abs(f(t))
    nodes = [mpmath.mpf(a) + (mpmath.mpf(b) - a) * (1 - mpmath.cos(mpmath.pi * (i + 0.5) / points)) / 2
             for i in range(points)]
    values = [f(t) for t in nodes]
    scales = [damping(t) for t in nodes]
    weights = [mpmath.mpf(1)] * points
    for _ in range(iterations):
        lhs = mpmath.matrix(points, degree + 1)
        rhs = mpmath.matrix(points, 1)
        for i, (t, v) in enumerate(zip(nodes, values)):
            s = mpmath.sqrt(weights[i]) * scales[i]
            for j in range(degree + 1):
                lhs[i, j] = t ** j * s
            rhs[i] = v * s
        coefficients = mpmath.lu_solve(lhs.T * lhs, lhs.T * rhs)
        errors = [abs(mpmath.polyval(coefficients[::-1], t) - v) * scale
                  for t, v, scale in zip(nodes, values, scales)]
        total = sum(w * e for w, e in zip(weights, errors))
        weights = [w * e / total for w, e in zip(weights, errors)]
    coefficients = [float(c) for c in coefficients]
    grid = np.linspace(a, b, 20001)
    exact = np.array([float(f(mpmath.mpf(t))) for t in grid])
    scale = np.array([float(damping(mpmath.mpf(t))) for t in grid])
    worst = np.max(np.abs(np.polyval(coefficients[::-1], grid) - exact) * scale)
    return coefficients, float(np.log2(worst))


def main():
    half_ln2 = float(mpmath.log(2) / 2)
    one = mpmath.mpf(1)
    fits = {
        "_EXP_SINGLE": fit_relative(mpmath.exp, -half_ln2, half_ln2, 6),
        "_LOG1P_SINGLE": fit_relative(
            lambda e: (mpmath.log1p(e) - e) / e**2 if e else -one / 2, 0.0, 1.0, 7,
            damping=lambda e: e**2 / mpmath.log1p(e) if e else 0 * one),
        "_EXP_DOUBLE": fit_relative(
            lambda r: (mpmath.exp(r) - 1 - r) / r**2 if r else one / 2, -half_ln2, half_ln2, 9),
        "_ATANH_DOUBLE": fit_relative(
            lambda t: ((2 * mpmath.atanh(mpmath.sqrt(t)) - 2 * mpmath.sqrt(t))
                       / mpmath.sqrt(t) ** 3 if t else 2 * one / 3), 0.0, 0.04, 7),
        "_floatfloat._EXP_TAIL": fit_relative(
            lambda r: (mpmath.exp(r) - 1 - r - r**2 / 2) / r**3 if r else one / 6,
            -half_ln2, half_ln2, 4),
        "_floatfloat._ATANH_TAIL": fit_relative(
            lambda t: ((2 * mpmath.atanh(mpmath.sqrt(t)) - 2 * mpmath.sqrt(t))
                       / mpmath.sqrt(t) ** 3 if t else 2 * one / 3), 0.0, 1 / 9, 4),
    }
    for name, (coefficients, log2_error) in fits.items():
        print(f"# max relative error 2**{log2_error:.1f}")
        print(f"{name} = {tuple(reversed(coefficients))!r}")


if __name__ == "__main__":
    main()
