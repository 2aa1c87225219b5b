"""The scalar definitions: one per function, compiled for every target.

x = logits, z = labels, q = pos_weight, sigma = sigmoid,
softplus(t) = max(t, 0) + log1p(exp(-|t|)).

* loss        = q z softplus(-x) + (1 - z) softplus(x)
* grad        = d loss / dx = (1 - z) sigma(x) - q z sigma(-x)
* grad_labels = d loss / dz = q softplus(-x) - softplus(x)
* hessian     = d2 loss / dx2 = ((1 - z) + q z) sigma(x) sigma(-x)

Every function needs e = exp(-|x|) in (0, 1] and at most log1p(e), so no
intermediate overflows and nothing cancels: softplus(+-x) = max(+-x, 0) +
log1p(e), sigma(|x|) = 1 / (1 + e), sigma(-|x|) = e / (1 + e).  A weight that
is exactly zero contributes exactly zero, also against an infinite softplus,
which gives the exact limits at x = +-inf; a NaN logit is returned as NaN.

``build_scalar_functions`` is the single place where this math is written.
Each target calls it with its own compiler decorator and its own ``exp`` /
``log1p`` primitives (branch-free polynomials on the CPU, libdevice on CUDA)
and the floating type ``real`` in which it computes.
"""

from types import SimpleNamespace


def build_scalar_functions(jit, exp_nonpositive, log1p_unit, real):
    """Compile the scalar functions for one target.

    jit             -- decorator that makes an inlinable function for the target
    exp_nonpositive -- exp(y) for y <= 0 (need not propagate NaN)
    log1p_unit      -- log(1 + e) for 0 <= e <= 1
    real            -- numba float type the arithmetic is done in; inputs and
                       constants are converted to it
    Returns a namespace with loss, grad, grad_labels, hessian, loss_and_grad,
    each taking (labels, logits, pos_weight) and returning ``real``.
    """
    zero = real(0.0)
    one = real(1.0)

    @jit
    def softplus_pair(x):
        """(softplus(x), softplus(-x)), sharing log1p(exp(-|x|))."""
        tail = log1p_unit(exp_nonpositive(-abs(x)))
        return (x if x > zero else zero) + tail, (-x if x < zero else zero) + tail

    @jit
    def sigmoid_pair(x):
        """(sigma(x), sigma(-x)): 1/(1 + e) and e/(1 + e), products of
        positive numbers."""
        e = exp_nonpositive(-abs(x))
        big = one / (one + e)
        small = e * big
        return (big, small) if x >= zero else (small, big)

    @jit
    def weighted(weight, value):
        """weight * value, exactly 0 when weight is 0 (even if value is inf)."""
        return weight * value if weight != zero else zero

    @jit
    def loss(labels, logits, pos_weight):
        z, x, q = real(labels), real(logits), real(pos_weight)
        sp_x, sp_neg_x = softplus_pair(x)
        result = weighted(q * z, sp_neg_x) + weighted(one - z, sp_x)
        return result if x == x else x

    @jit
    def grad(labels, logits, pos_weight):
        z, x, q = real(labels), real(logits), real(pos_weight)
        sig_x, sig_neg_x = sigmoid_pair(x)
        result = (one - z) * sig_x - (q * z) * sig_neg_x
        return result if x == x else x

    @jit
    def grad_labels(labels, logits, pos_weight):
        z, x, q = real(labels), real(logits), real(pos_weight)
        sp_x, sp_neg_x = softplus_pair(x)
        result = weighted(q, sp_neg_x) - sp_x
        # Independent of z, but a NaN label still yields NaN.
        return result if x == x and z == z else x + z

    @jit
    def hessian(labels, logits, pos_weight):
        z, x, q = real(labels), real(logits), real(pos_weight)
        sig_x, sig_neg_x = sigmoid_pair(x)
        result = ((one - z) + q * z) * (sig_x * sig_neg_x)
        return result if x == x else x

    @jit
    def loss_and_grad(labels, logits, pos_weight):
        return (loss(labels, logits, pos_weight),
                grad(labels, logits, pos_weight))

    return SimpleNamespace(loss=loss, grad=grad, grad_labels=grad_labels,
                           hessian=hessian, loss_and_grad=loss_and_grad)


#: Names of the elementwise functions that take (labels, logits, pos_weight).
ELEMENTWISE = ("loss", "grad", "grad_labels", "hessian")
