"""mpmath references (50 digits) and ULP errors, independent of wcel_numba."""

import functools
import itertools

import mpmath
import numpy as np

mpmath.mp.dps = 50


@functools.lru_cache(maxsize=None)
def _softplus(t):
    t = mpmath.mpf(t)
    if t > 0:
        return t + mpmath.log1p(mpmath.exp(-t))
    return mpmath.log1p(mpmath.exp(t))


@functools.lru_cache(maxsize=None)
def _sigmoid(t):
    t = mpmath.mpf(t)
    if t >= 0:
        return 1 / (1 + mpmath.exp(-t))
    e = mpmath.exp(t)
    return e / (1 + e)


def terms(name, z, x, q):
    """The exact terms whose sum is the function value (as mpf)."""
    x = float(x)
    if not np.isfinite(x):
        raise ValueError("use the exact limits for infinite logits")
    z, q = mpmath.mpf(float(z)), mpmath.mpf(float(q))
    if name == "loss":
        return [q * z * _softplus(-x), (1 - z) * _softplus(x)]
    if name == "grad":
        return [(1 - z) * _sigmoid(x), -q * z * _sigmoid(-x)]
    if name == "grad_labels":
        return [q * _softplus(-x), -_softplus(x)]
    if name == "hessian":
        return [((1 - z) + q * z) * _sigmoid(x) * _sigmoid(-x)]
    raise KeyError(name)


@functools.lru_cache(maxsize=None)
def table(name, dtype):
    """The grid LABELS x logit_grid x POS_WEIGHTS with the exact values (see
    ``exact_table``)."""
    dtype = np.dtype(dtype).type
    return exact_table(name, dtype, itertools.product(LABELS, logit_grid(dtype), POS_WEIGHTS))


def exact_table(name, dtype, points):
    """The exact values of function ``name`` at (labels, logits, pos_weight)
    ``points``, rounded to ``dtype``.

    Returns (z, x, q, hi, lo, unit): inputs of ``dtype``, the exact value as a
    float64 pair hi + lo, and the size of one ULP (in ``dtype``) of the exact
    value -- or of the larger term when the value is a difference of two terms
    (soft-label grad, grad_labels).  unit is 0 where the exact value is 0.
    """
    rows = []
    for z, x, q in ((dtype(z), dtype(x), dtype(q)) for z, x, q in points):
        parts = terms(name, z, x, q)
        exact = mpmath.fsum(parts)
        hi = float(exact)
        lo = float(exact - hi)
        scale = max(abs(exact), *(abs(p) for p in parts))
        unit = float(np.spacing(dtype(float(scale)))) if scale else 0.0
        rows.append((z, x, q, hi, lo, unit))
    z, x, q, hi, lo, unit = (np.array(c) for c in zip(*rows))
    return z.astype(dtype), x.astype(dtype), q.astype(dtype), hi, lo, unit


def ulp_errors(got, hi, lo, unit):
    """Elementwise |got - (hi + lo)| / unit (inf for a nonzero result where
    the exact value is 0, or for a non-finite result)."""
    got = np.asarray(got, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.abs((got - hi) - lo) / unit
    err = np.where(unit == 0, np.where(got == 0, 0.0, np.inf), err)
    return np.where(np.isfinite(got), err, np.inf)


def logit_grid(dtype, per_decade=6):
    """0, +-subnormals ... +-overflow edge, log-spaced, plus a few special points."""
    info = np.finfo(dtype)
    tiny = float(info.smallest_subnormal)
    edge = float(np.log(info.max))  # 88.72 in float32, 709.78 in float64
    mags = np.geomspace(tiny, edge, int((np.log10(edge) - np.log10(tiny)) * per_decade))
    # ... and, past the edge in float64, logits whose exp(-|x|) is subnormal
    extra = np.array([0.5, 1.0, 2.0, 15.0, 17.0, 23.3, 30.0, 36.0, 58.25, edge,
                      0.693, 1e-3, 1e-8, 720.0, 740.0, 744.5])
    mags = np.concatenate([mags, extra]).astype(dtype)
    return np.unique(np.concatenate([-mags, [dtype(0)], mags]))


LABELS = (0.0, 1.0, 0.3, 0.75)
POS_WEIGHTS = (0.0, 0.5, 1.0, 3.0, 1000.0)
