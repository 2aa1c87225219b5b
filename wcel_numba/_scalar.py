"""The scalar definitions: one per function, compiled for every target.

x = logits, z = labels, q = pos_weight, sigma = sigmoid,
softplus(t) = max(t, 0) + log1p(exp(-|t|)).

* loss        = q z softplus(-x) + (1 - z) softplus(x)
* grad        = d loss / dx = (1 - z) sigma(x) - q z sigma(-x)
* grad_labels = d loss / dz = q softplus(-x) - softplus(x)
* hessian     = d2 loss / dx2 = ((1 - z) + q z) sigma(x) sigma(-x)

With m = |x| and e = exp(-m) in (0, 1], softplus(+-x) = max(+-x, 0) +
log1p(e), so

* loss        = c m + w log1p(e),   c = (1 - z) if x >= 0 else q z,
                                    w = (1 - z) + q z;
* grad        = s (n sigma(m) - f sigma(-m)),  (s, n, f) = (1, 1 - z, q z)
                for x >= 0 and (-1, q z, 1 - z) for x < 0;
                sigma(m) = 1 / (1 + e), sigma(-m) = e sigma(m);
* grad_labels = (q - 1) log1p(e) + (-m if x >= 0 else q m);
* hessian     = w sigma(m) sigma(-m).

Nothing overflows and, for labels in [0, 1] and pos_weight >= 0, nothing
cancels except where the result is a difference of its two terms (grad,
grad_labels).  e and everything proportional to it are carried multiplied by
a power of two ``scale`` (e * scale is normal far below where e is subnormal),
and unscaled by the last multiplication where the result is tiny, so 1000 * e
is as accurate as e itself.  A weight that is exactly zero contributes
exactly zero, also against an infinite m, which gives the exact limits at
x = +-inf; a NaN logit is returned as NaN.

``build_scalar_functions`` is the single place where this math is written.
Each target calls it with its own compiler decorator and its own numbers:
the CPU computes in float64 with branch-free polynomial ``exp``/``log1p``,
the CUDA float64 kernels in float64 with libdevice's, and the CUDA float32
kernels -- which must not use double precision -- in float-float pairs of
float32 numbers (``_floatfloat``).  The arithmetic is therefore written as
calls (``add``, ``mul``, ...), which compile to the plain operators for
plain floats.
"""

from types import SimpleNamespace


def horner(jit, fma):
    """``evaluate(x, coefficients)``: the polynomial with these coefficients
    (a constant tuple, highest degree first) at x, by Horner's rule with the
    target's fused multiply-add ``fma`` -- compiled with ``jit``, unrolled."""

    @jit
    def evaluate(x, coefficients):
        p = coefficients[0]
        for c in coefficients[1:]:
            p = fma(x, p, c)
        return p

    return evaluate


def plain_arithmetic(jit, real, exp_scaled, log1p_scaled, scale, fma):
    """The arithmetic of ``build_scalar_functions`` on plain floats of type
    ``real`` (a numba float type), with the target's fused multiply-add
    ``fma(a, b, c)`` = a*b + c rounded once, and its primitives:

    exp_scaled   -- exp(y) * scale for y <= 0 (0 at -inf; need not propagate
                    NaN)
    log1p_scaled -- (e, e * scale) -> log(1 + e) * scale for 0 <= e <= 1
    scale        -- the power of two of the primitives

    (``_floatfloat.float_float_arithmetic`` is the other one: pairs of
    float32 numbers.)
    """
    return SimpleNamespace(
        real=real, constant=real, scale=scale, result=jit(lambda a: a),
        lead=jit(lambda a: a),
        add=jit(lambda a, b: a + b), sub=jit(lambda a, b: a - b),
        mul=jit(lambda a, b: a * b), multiply_add=fma,
        reciprocal=jit(lambda a: real(1.0) / a),
        neg=jit(lambda a: -a), absolute=jit(lambda a: abs(a)),
        exp_scaled=exp_scaled, log1p_scaled=log1p_scaled)


def build_scalar_functions(jit, arithmetic):
    """Compile the scalar functions for one target.

    jit        -- decorator that makes an inlinable function for the target
    arithmetic -- the numbers the target computes with: ``plain_arithmetic``
                  or ``_floatfloat.float_float_arithmetic``, a namespace of

                  real(v)      an input value as a number; constant(v) the same
                               outside jitted code
                  add, sub, mul, reciprocal, neg, absolute
                  multiply_add(a, b, c)  a*b + c (rounded once where it can be)
                  lead(a)      a float with the sign and order of a (for
                               comparisons)
                  result(a)    the number as a float (rounded once)
                  exp_scaled, log1p_scaled, scale -- as in plain_arithmetic
    Returns a namespace with loss, grad, grad_labels, hessian, loss_and_grad,
    each taking (labels, logits, pos_weight) and returning a float.
    """
    a = arithmetic
    real, add, sub, mul, neg, result = a.real, a.add, a.sub, a.mul, a.neg, a.result
    lead, exp_scaled, log1p_scaled = a.lead, a.exp_scaled, a.log1p_scaled
    zero, one, unscale = a.constant(0.0), a.constant(1.0), a.constant(1.0 / a.scale)
    reciprocal, absolute, multiply_add = a.reciprocal, a.absolute, a.multiply_add

    @jit
    def nonnegative(v):
        return lead(v) >= lead(zero)

    @jit
    def is_nan(v):
        return lead(v) != lead(v)

    @jit
    def exp_of_minus_abs(x):
        """(m, e, e * scale) for m = |x|, e = exp(-m).  (-|x| first: a
        single sign operation, whose negation later folds into FMAs.)"""
        minus_m = neg(absolute(x))
        e_scaled = exp_scaled(minus_m)
        return neg(minus_m), mul(e_scaled, unscale), e_scaled

    @jit
    def sigmoid_pair(e, e_scaled):
        """(sigma(m), sigma(-m) * scale) = (1/(1 + e), e/(1 + e) * scale):
        one division, products of positive numbers."""
        big = reciprocal(add(one, e))
        return big, mul(e_scaled, big)

    @jit
    def unscaled(weight, value_scaled):
        """weight * value_scaled / scale, rounded once where the product is
        tiny, and without a spurious overflow where it is not: the scaled
        order only while value_scaled < 1, i.e. value < 1/scale, a normal
        number."""
        if lead(value_scaled) < lead(one):
            return mul(mul(weight, value_scaled), unscale)
        return mul(weight, mul(value_scaled, unscale))

    @jit
    def weighted_add(weight, value, addend):
        """weight * value + addend, exactly addend when weight is 0 (even if
        value is inf)."""
        return multiply_add(weight, value, addend) if lead(weight) != lead(zero) else addend

    @jit
    def loss(labels, logits, pos_weight):
        z, x, q = real(labels), real(logits), real(pos_weight)
        m, e, e_scaled = exp_of_minus_abs(x)
        positive, negative = mul(q, z), sub(one, z)  # weights of softplus(-x), softplus(x)
        linear = negative if nonnegative(x) else positive
        tail = unscaled(add(positive, negative), log1p_scaled(e, e_scaled))
        value = result(weighted_add(linear, m, tail))
        return result(x) if is_nan(x) else value

    @jit
    def grad(labels, logits, pos_weight):
        z, x, q = real(labels), real(logits), real(pos_weight)
        m, e, e_scaled = exp_of_minus_abs(x)
        big, small_scaled = sigmoid_pair(e, e_scaled)
        positive, negative = mul(q, z), sub(one, z)
        near, far = (negative, positive) if nonnegative(x) else (positive, negative)
        value = result(multiply_add(near, big, neg(unscaled(far, small_scaled))))
        value = value if nonnegative(x) else -value
        return result(x) if is_nan(x) else value

    @jit
    def grad_labels(labels, logits, pos_weight):
        z, x, q = real(labels), real(logits), real(pos_weight)
        m, e, e_scaled = exp_of_minus_abs(x)
        tail = unscaled(sub(q, one), log1p_scaled(e, e_scaled))
        value = result(sub(tail, m) if nonnegative(x) else weighted_add(q, m, tail))
        # Independent of z, but a NaN label still yields NaN.
        return result(add(x, z)) if is_nan(x) or is_nan(z) else value

    @jit
    def hessian(labels, logits, pos_weight):
        z, x, q = real(labels), real(logits), real(pos_weight)
        m, e, e_scaled = exp_of_minus_abs(x)
        big, small_scaled = sigmoid_pair(e, e_scaled)
        value = result(unscaled(add(sub(one, z), mul(q, z)), mul(big, small_scaled)))
        return result(x) if is_nan(x) else value

    @jit
    def loss_and_grad(labels, logits, pos_weight):
        return (loss(labels, logits, pos_weight),
                grad(labels, logits, pos_weight))

    return SimpleNamespace(loss=loss, grad=grad, grad_labels=grad_labels,
                           hessian=hessian, loss_and_grad=loss_and_grad)


#: Names of the elementwise functions that take (labels, logits, pos_weight).
ELEMENTWISE = ("loss", "grad", "grad_labels", "hessian")
