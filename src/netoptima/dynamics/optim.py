"""GD, heavy ball, Nesterov (restart schedule) and the notebook's two-pole "higher momentum" (dynamics.md §1.2, §1.4).

All four are ``torch.optim.Optimizer``s in PyTorch's momentum convention (the buffer accumulates raw
gradients and the step is lr·buffer), which is what the official notebook ran:

    GD          p ← p − η g
    HeavyBall   v ← β v + g;                p ← p − η v                     (= SGD(momentum=β))
    Nesterov    v ← μ_k v + g;              p ← p − η (g + μ_k v),   μ_k = (k − 1)/(k + r − 1)
    HigherMomentum  Δp_t = β1 Δp_{t−1} + β2 Δp_{t−2} − η g_t

``Nesterov`` counts its own steps k = 1, 2, … per parameter group (the notebook resets
``SGD(nesterov=True)``'s momentum to (epoch − 1)/(epoch + d − 1) before every full-batch epoch, which is
the same thing with r = d); :meth:`Nesterov.restart` starts the schedule again from k = 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from netoptima.conventions import check_positive
from netoptima.dynamics._checks import check_momentum

__all__ = ["GD", "HeavyBall", "HigherMomentum", "Nesterov"]

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


def _closure_loss(closure: Callable[[], Tensor] | None) -> Tensor | None:
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class GD(Optimizer):
    """Plain (full-batch) gradient descent, p ← p − η ∇L (dynamics.md §1.2).

    Arguments:
        params: parameters or parameter groups.
        lr: learning rate η > 0.
    """

    def __init__(self, params: Params, lr: float) -> None:
        super().__init__(params, {"lr": check_positive("lr", lr)})

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        loss = _closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-group["lr"])
        return loss


class HeavyBall(Optimizer):
    """Polyak's heavy ball in PyTorch's convention: v ← βv + g, p ← p − ηv (dynamics.md §1.2, §1.4).

    Equivalent to W_{k+1} = W_k − η∇L(W_k) + β(W_k − W_{k−1}); its limiting ODE is Ẅ + γẆ + ∇L = 0
    with γ = (1 − β)/√η at t = k√η.

    Arguments:
        params: parameters or parameter groups.
        lr: learning rate η > 0.
        momentum: β in [0, 1).
    """

    def __init__(self, params: Params, lr: float, momentum: float) -> None:
        super().__init__(params, {"lr": check_positive("lr", lr), "momentum": check_momentum("momentum", momentum)})

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        loss = _closure_loss(closure)
        for group in self.param_groups:
            beta, lr = group["momentum"], group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "v" not in state:
                    state["v"] = torch.zeros_like(p)
                v = state["v"].mul_(beta).add_(p.grad)
                p.add_(v, alpha=-lr)
        return loss


class Nesterov(Optimizer):
    """Nesterov's method with the momentum schedule μ_k = (k − 1)/(k + r − 1) (dynamics.md §1.2).

    PyTorch's Nesterov form (the notebook's ``SGD(nesterov=True)`` with the momentum reset every epoch):
    v ← μ_k v + g, p ← p − η(g + μ_k v). As in ``SGD``, the step with μ_1 = 0 is a plain gradient step that
    records no velocity, so v starts at g_2. Its limiting ODE is Ẍ + (r/t)Ẋ + ∇L = 0 at t = k√η, whose
    loss decays only polynomially, like t^{−r}.

    Arguments:
        params: parameters or parameter groups.
        lr: learning rate η > 0.
        r: damping constant r > 0 (the notebook's ``d``; r = 3 is Nesterov's (k − 1)/(k + 2)).
    """

    def __init__(self, params: Params, lr: float, r: float) -> None:
        super().__init__(params, {"lr": check_positive("lr", lr), "r": check_positive("r", r)})
        for group in self.param_groups:
            group.setdefault("k", 0)

    def restart(self) -> None:
        """Start the schedule again at k = 1 with zero velocity (a restart)."""
        for group in self.param_groups:
            group["k"] = 0
            for p in group["params"]:
                self.state[p].pop("v", None)

    def momentum(self, group: int = 0) -> float:
        """The momentum μ_k the next step of parameter group ``group`` will use."""
        g = self.param_groups[group]
        k = g["k"] + 1
        return (k - 1) / (k + g["r"] - 1)

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        loss = _closure_loss(closure)
        for group in self.param_groups:
            group["k"] = k = group.get("k", 0) + 1
            mu, lr = (k - 1) / (k + group["r"] - 1), group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.add_(p.grad, alpha=-lr)
                if mu == 0:  # k = 1: a plain gradient step; like SGD, no velocity is recorded yet
                    continue
                state = self.state[p]
                if "v" not in state:
                    state["v"] = torch.zeros_like(p)
                v = state["v"].mul_(mu).add_(p.grad)
                p.add_(v, alpha=-lr * mu)
        return loss


class HigherMomentum(Optimizer):
    """The notebook's two-pole momentum ``Higher_SGD``: Δp_t = β1 Δp_{t−1} + β2 Δp_{t−2} − η g_t (dynamics.md §1.4).

    The notebook filters the gradient through the poles a, b of z² − β1 z − β2 (two chained one-pole
    buffers); this is the same linear filter written as the recursion above, started from rest
    (Δp_0 = Δp_{−1} = 0). The notebook's code starts its inner buffer at 0 instead of g_1, so its second
    step lacks a b·g_1 term and its iterates differ from these by a transient that decays like the
    poles. It is stable when both poles lie inside the unit circle, i.e. β1 + β2 < 1 here; the notebook's
    β2 = 0.8 with β1 = 0.2 puts a pole on the unit circle (its "unstable" run).

    Arguments:
        params: parameters or parameter groups.
        lr: learning rate η > 0.
        beta1: first momentum coefficient in [0, 1).
        beta2: second momentum coefficient in [0, 1).
    """

    def __init__(self, params: Params, lr: float, beta1: float, beta2: float) -> None:
        super().__init__(params, {"lr": check_positive("lr", lr), "beta1": check_momentum("beta1", beta1),
                                  "beta2": check_momentum("beta2", beta2)})

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        loss = _closure_loss(closure)
        for group in self.param_groups:
            b1, b2, lr = group["beta1"], group["beta2"], group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "d1" not in state:
                    state["d1"], state["d2"] = torch.zeros_like(p), torch.zeros_like(p)
                d1, d2 = state["d1"], state["d2"]  # Δp_{t−1}, Δp_{t−2}
                delta = d2.mul_(b2).add_(d1, alpha=b1).add_(p.grad, alpha=-lr)  # reuses d2's storage
                p.add_(delta)
                state["d1"], state["d2"] = delta, d1
        return loss
