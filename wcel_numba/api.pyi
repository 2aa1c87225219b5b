# Type stubs for the public functions (the implementations are generated).
from typing import Any, Literal, Optional, Tuple

from numpy.typing import ArrayLike

_Reduction = Literal["mean", "sum", "none"]

def loss(labels: ArrayLike, logits: ArrayLike, pos_weight: ArrayLike = 1.0, *,
         out: Any = None, stream: Any = None) -> Any: ...
def grad(labels: ArrayLike, logits: ArrayLike, pos_weight: ArrayLike = 1.0, *,
         out: Any = None, stream: Any = None) -> Any: ...
def grad_labels(labels: ArrayLike, logits: ArrayLike, pos_weight: ArrayLike = 1.0, *,
                out: Any = None, stream: Any = None) -> Any: ...
def hessian(labels: ArrayLike, logits: ArrayLike, pos_weight: ArrayLike = 1.0, *,
            out: Any = None, stream: Any = None) -> Any: ...
def loss_and_grad(labels: ArrayLike, logits: ArrayLike, pos_weight: ArrayLike = 1.0, *,
                  out: Optional[Tuple[Any, Any]] = None,
                  stream: Any = None) -> Tuple[Any, Any]: ...
def reduce_loss(labels: ArrayLike, logits: ArrayLike, pos_weight: ArrayLike = 1.0, *,
                weight: Optional[ArrayLike] = None, reduction: _Reduction = "mean",
                label_smoothing: float = 0.0, stream: Any = None) -> Any: ...
def reduce_loss_and_grad(labels: ArrayLike, logits: ArrayLike, pos_weight: ArrayLike = 1.0,
                         *, weight: Optional[ArrayLike] = None,
                         reduction: _Reduction = "mean", label_smoothing: float = 0.0,
                         stream: Any = None) -> Tuple[Any, Any]: ...
def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,
                                     pos_weight: Any = None,
                                     reduction: _Reduction = "mean") -> Any: ...
def weighted_cross_entropy_with_logits(labels: Any = None, logits: Any = None,
                                       pos_weight: Any = None, name: Optional[str] = None,
                                       targets: Any = None) -> Any: ...
