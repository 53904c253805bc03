"""The official notebook's experiments (dynamics.md §1.4): data, optimizers, and a fast exact re-parametrisation.

Full-batch training on fixed inputs X (n × d) only ever moves the first-layer weight inside the row
space of X, because its gradient is δᵀX with δ = ∂L/∂Z (n × m) the gradient w.r.t. the pre-activations:

    W1(t) = W1(0) + C(t) X,      Z = X W1ᵀ + b = P + K Cᵀ + b,   P = X W1(0)ᵀ (n × m),  K = X Xᵀ (n × n)

and an optimizer that is linear in the gradient (GD, heavy ball, Nesterov, higher momentum) applied to
W1 with gradient δᵀX is the same optimizer applied to C with gradient δᵀ (its buffers map the same way).
:class:`RowSpaceMLP` trains C instead of W1: a step costs O(n²m) instead of O(ndm), 13× cheaper for the
notebook's 60-image "small MNIST" (n = 60, d = 784). It is the same dynamics up to rounding, which the
tests check against the model as written. Adam-like (elementwise nonlinear) optimizers are not covered.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from netoptima.conventions import check_choice, check_int, check_positive
from netoptima.dynamics._checks import check_momentum
from netoptima.dynamics.data import notebook_data
from netoptima.dynamics.models import NOTEBOOK_SEED, TwoLayerMLP
from netoptima.dynamics.optim import GD, HeavyBall, HigherMomentum, Nesterov

__all__ = ["NOTEBOOK_OPTIMIZERS", "RowSpaceMLP", "make_optimizer", "notebook_data", "notebook_loss_curve"]

NOTEBOOK_OPTIMIZERS = ("gd", "hb", "nag", "hm")


class _RowSpaceProduct(torch.autograd.Function):
    """Z_C = K Cᵀ with the backward that returns δᵀ (the row-space coordinates of the W1-gradient δᵀX)."""

    @staticmethod
    def forward(ctx: Any, C: Tensor, K: Tensor) -> Tensor:
        return K @ C.T  # (n, m)

    @staticmethod
    def backward(ctx: Any, grad_Z: Tensor) -> tuple[Tensor, None]:
        return grad_Z.T, None  # (m, n)


class RowSpaceMLP(nn.Module):
    """A :class:`TwoLayerMLP` trained in the row space of its fixed training inputs (module docstring).

    Only evaluates on the inputs it was built with; ``weight()`` rebuilds W1 = W1(0) + C X.

    Arguments:
        model: the ``TwoLayerMLP`` at initialisation (not modified).
        X: (n, d) training inputs, same dtype as the model.
    """

    def __init__(self, model: TwoLayerMLP, X: Tensor) -> None:
        super().__init__()
        W0 = model.hidden.weight.detach()  # (m, d)
        if not isinstance(X, Tensor):
            raise ValueError(f"X must be a torch.Tensor of shape (n, {W0.shape[1]}), got {type(X).__name__}")
        if X.ndim != 2 or X.shape[1] != W0.shape[1] or X.dtype != W0.dtype:
            raise ValueError(f"X must be a ({'n'}, {W0.shape[1]}) tensor of dtype {W0.dtype}, got "
                             f"{tuple(X.shape)} {X.dtype}")
        self.X = X
        self.register_buffer("W0", W0.clone())
        self.register_buffer("P", X @ W0.T)  # (n, m)
        self.register_buffer("K", X @ X.T)  # (n, n)
        if not bool(torch.isfinite(self.K).all()):
            raise ValueError("X must be finite with a finite Gram X Xᵀ (no NaN/inf, no row norm² overflowing "
                             f"{W0.dtype}), got non-finite entries")
        self.C = nn.Parameter(torch.zeros(W0.shape[0], X.shape[0], dtype=X.dtype))  # (m, n)
        self.bias = nn.Parameter(model.hidden.bias.detach().clone())  # (m,)
        self.out = nn.Parameter(model.output.weight.detach().clone())  # (1, m)

    def forward(self, X: Tensor) -> Tensor:
        if X is not self.X:
            raise ValueError("RowSpaceMLP only evaluates on the training inputs it was built with")
        Z = self.P + _RowSpaceProduct.apply(self.C, self.K) + self.bias  # (n, m)
        return torch.relu(Z) @ self.out.T  # (n, 1)

    def weight(self) -> Tensor:
        """The first-layer weight W1 = W1(0) + C X of the equivalent ``TwoLayerMLP``, shape (m, d)."""
        return self.W0 + self.C.detach() @ self.X  # (m, d)


def make_optimizer(name: str, params: Any, *, lr: float, momentum: float | None = None, r: float | None = None,
                   beta2: float | None = None) -> torch.optim.Optimizer:
    """The notebook's optimizers by name: ``gd``, ``hb`` (momentum β), ``nag`` (r = the notebook's d),
    ``hm`` (higher momentum: β1 = ``momentum``, β2 = ``beta2``)."""
    check_choice("name", name, NOTEBOOK_OPTIMIZERS)
    if name == "gd":
        return GD(params, lr)
    if name == "hb":
        return HeavyBall(params, lr, check_momentum("momentum", momentum))
    if name == "nag":
        return Nesterov(params, lr, check_positive("r", r))
    return HigherMomentum(params, lr, check_momentum("momentum", momentum), check_momentum("beta2", beta2))


def notebook_loss_curve(*, n: int, width: int, optimizer: str, lr: float, epochs: int, seed: int = NOTEBOOK_SEED,
                        momentum: float | None = None, r: float | None = None, beta2: float | None = None,
                        rowspace: bool = False, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32, quiet: bool | None = True) -> list[float]:
    """One notebook run: ``TwoLayerMLP(784, width)`` trained full batch with ``nn.MSELoss`` (dynamics.md §1.4).

    Arguments:
        n: number of MNIST training images (600 or 60 in the notebook).
        width: hidden width m.
        optimizer: ``gd``, ``hb``, ``nag`` or ``hm`` (see :func:`make_optimizer`).
        lr: learning rate; epochs: number of full-batch epochs.
        seed: the model's ``torch_seed`` (218 in the notebook).
        rowspace: train the exact row-space re-parametrisation (:class:`RowSpaceMLP`, cheaper for n < d).
        device: torch device of the run; dtype: float32 as in the notebook, or float64.

    Returns:
        The loss recorded at epochs 1 … ``epochs``, as the notebook's ``loss_record`` (the loss of the batch
        on which that epoch's step was taken).

    Raises:
        TrainingDiverged: if the loss becomes non-finite.
    """
    from netoptima.dynamics.train import train_full_batch

    epochs = check_int("epochs", epochs, low=1)
    X, y = notebook_data(n, dtype=dtype)
    X, y = X.to(device), y.to(device)
    model: nn.Module = TwoLayerMLP(X.shape[1], width, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    model = model.to(device)  # drawn on the CPU generator (the notebook's weights), then moved
    if rowspace:
        model = RowSpaceMLP(model, X)
    opt = make_optimizer(optimizer, model.parameters(), lr=lr, momentum=momentum, r=r, beta2=beta2)
    out = train_full_batch(model, X, y, opt, steps=epochs - 1, loss="mse", quiet=quiet,
                           desc=f"notebook {optimizer} m={width}")
    return out.loss.tolist()
