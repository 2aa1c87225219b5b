"""Parity with TensorFlow's formula, PyTorch and the TF entry point's rules."""

import numpy as np
import pytest

import wcel_numba as w

rng = np.random.default_rng(3)


def tf_formula(labels, logits, pos_weight):
    """tensorflow/python/ops/nn_impl.py, transcribed to NumPy."""
    log_weight = 1 + (pos_weight - 1) * labels
    return (1 - labels) * logits + log_weight * (
        np.log1p(np.exp(-np.abs(logits))) + np.maximum(-logits, 0))


def test_matches_tf_formula_where_it_is_accurate():
    # float64, moderate logits, hard and soft labels: no cancellation there.
    x = rng.uniform(-8, 8, 5000)
    z = rng.choice([0.0, 1.0, 0.2, 0.9], 5000)
    q = rng.uniform(0.1, 10, 5000)
    np.testing.assert_allclose(w.loss(z, x, q), tf_formula(z, x, q), rtol=1e-13, atol=1e-15)


def test_tf_signature():
    x = rng.standard_normal((4, 3))
    z = (rng.random((4, 3)) > 0.5) * 1.0
    q = np.array([0.5, 1.0, 4.0])
    want = w.loss(z, x, q)
    np.testing.assert_array_equal(
        w.weighted_cross_entropy_with_logits(labels=z, logits=x, pos_weight=q, name="x"), want)
    np.testing.assert_array_equal(
        w.weighted_cross_entropy_with_logits(targets=z, logits=x, pos_weight=q), want)
    np.testing.assert_array_equal(w.weighted_cross_entropy_with_logits(z, x, 2.0),
                                  w.loss(z, x, 2.0))


def test_tf_shape_check_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 1\)|\(4, 1\).*\(4, 3\)"):
        w.weighted_cross_entropy_with_logits(labels=np.zeros((4, 1)), logits=np.zeros((4, 3)),
                                             pos_weight=1.0)


def test_tf_targets_and_labels_together_is_an_error():
    with pytest.raises(ValueError, match="targets"):
        w.weighted_cross_entropy_with_logits(labels=np.zeros(2), targets=np.zeros(2),
                                             logits=np.zeros(2), pos_weight=1.0)
    with pytest.raises(TypeError, match="pos_weight"):
        w.weighted_cross_entropy_with_logits(labels=np.zeros(2), logits=np.zeros(2))



def _torch():
    return pytest.importorskip("torch")


def test_matches_pytorch_loss_and_gradient():
    torch = _torch()
    x = torch.tensor(rng.uniform(-12, 12, (200, 5)), dtype=torch.float64, requires_grad=True)
    z = torch.tensor(rng.choice([0.0, 1.0, 0.35], (200, 5)), dtype=torch.float64)
    q = torch.tensor([0.3, 1.0, 2.0, 5.0, 11.0], dtype=torch.float64)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(x, z, pos_weight=q,
                                                               reduction="none")
    ref.sum().backward()
    got = w.loss(z, x, q)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(w.grad(z, x, q).numpy(), x.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_torch_tensors_in_torch_tensors_out():
    torch = _torch()
    x = torch.randn(10, dtype=torch.float32, requires_grad=True)
    z = torch.ones(10)
    loss, grad = w.loss_and_grad(z, x, 2.0)
    assert isinstance(loss, torch.Tensor) and loss.dtype == torch.float32
    out = torch.empty(10)
    assert w.hessian(z, x, out=out) is out
    np.testing.assert_array_equal(out.numpy(), w.hessian(z.numpy(), x.detach().numpy()))
