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
Each target calls it with its own compiler decorator and its own ``exp`` /
``log1p`` primitives (branch-free polynomials on the CPU, libdevice on CUDA)
and the floating type ``real`` in which it computes.
"""

from types import SimpleNamespace


def build_scalar_functions(jit, exp_scaled, log1p_scaled, real, scale):
    """Compile the scalar functions for one target.

    jit          -- decorator that makes an inlinable function for the target
    exp_scaled   -- exp(y) * scale for y <= 0 (0 at -inf; need not propagate
                    NaN)
    log1p_scaled -- (e, e * scale) -> log(1 + e) * scale for 0 <= e <= 1
    real         -- numba float type the arithmetic is done in; inputs and
                    constants are converted to it
    scale        -- the power of two of the primitives
    Returns a namespace with loss, grad, grad_labels, hessian, loss_and_grad,
    each taking (labels, logits, pos_weight) and returning ``real``.
    """
    zero = real(0.0)
    one = real(1.0)
    unscale = real(1.0 / scale)

    @jit
    def exp_of_minus_abs(x):
        """(m, e, e * scale) for m = |x|, e = exp(-m)."""
        m = abs(x)
        e_scaled = exp_scaled(-m)
        return m, e_scaled * unscale, e_scaled

    @jit
    def sigmoid_pair(e, e_scaled):
        """(sigma(m), sigma(-m) * scale) = (1/(1 + e), e/(1 + e) * scale):
        one division, products of positive numbers."""
        big = one / (one + e)
        return big, e_scaled * big

    @jit
    def unscaled(weight, value_scaled):
        """weight * value_scaled / scale, rounded once where the product is
        tiny, and without a spurious overflow where it is not: the scaled
        order only while value_scaled < 1, i.e. value < 1/scale, a normal
        number."""
        if value_scaled < one:
            return (weight * value_scaled) * unscale
        return weight * (value_scaled * unscale)

    @jit
    def weighted(weight, value):
        """weight * value, exactly 0 when weight is 0 (even if value is inf)."""
        return weight * value if weight != zero else zero

    @jit
    def loss(labels, logits, pos_weight):
        z, x, q = real(labels), real(logits), real(pos_weight)
        m, e, e_scaled = exp_of_minus_abs(x)
        positive, negative = q * z, one - z  # weights of softplus(-x), softplus(x)
        linear = negative if x >= zero else positive
        tail = unscaled(positive + negative, log1p_scaled(e, e_scaled))
        result = weighted(linear, m) + tail
        return result if x == x else x

    @jit
    def grad(labels, logits, pos_weight):
        z, x, q = real(labels), real(logits), real(pos_weight)
        m, e, e_scaled = exp_of_minus_abs(x)
        big, small_scaled = sigmoid_pair(e, e_scaled)
        positive, negative = q * z, one - z
        near, far = (negative, positive) if x >= zero else (positive, negative)
        result = near * big - unscaled(far, small_scaled)
        result = result if x >= zero else -result
        return result if x == x else x

    @jit
    def grad_labels(labels, logits, pos_weight):
        z, x, q = real(labels), real(logits), real(pos_weight)
        m, e, e_scaled = exp_of_minus_abs(x)
        tail = unscaled(q - one, log1p_scaled(e, e_scaled))
        result = (-m if x >= zero else weighted(q, m)) + tail
        # Independent of z, but a NaN label still yields NaN.
        return result if x == x and z == z else x + z

    @jit
    def hessian(labels, logits, pos_weight):
        z, x, q = real(labels), real(logits), real(pos_weight)
        m, e, e_scaled = exp_of_minus_abs(x)
        big, small_scaled = sigmoid_pair(e, e_scaled)
        result = unscaled((one - z) + q * z, big * small_scaled)
        return result if x == x else x

    @jit
    def loss_and_grad(labels, logits, pos_weight):
        return (loss(labels, logits, pos_weight),
                grad(labels, logits, pos_weight))

    return SimpleNamespace(loss=loss, grad=grad, grad_labels=grad_labels,
                           hessian=hessian, loss_and_grad=loss_and_grad)


#: Names of the elementwise functions that take (labels, logits, pos_weight).
ELEMENTWISE = ("loss", "grad", "grad_labels", "hessian")
