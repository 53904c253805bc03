"""Gram-Gauss-Newton (Cai et al. 2019; dynamics.md §2.1): Gauss-Newton in function space through the NTK Gram.

One step on a (mini-)batch B with outputs f_B, residuals e_B = f_B − y_B and J_B = ∂f_B/∂w:

    w ← w − η J_Bᵀ (G_B + λI)⁻¹ e_B,        G_B = J_B J_Bᵀ  (b·c × b·c, the empirical NTK Gram)

With λ = 0 and η = 1 this is the minimum-norm solution of the linearised system J_B Δ = −e_B, i.e.
(J_BᵀJ_B)⁺J_Bᵀe_B; with λ > 0 it equals Levenberg-Marquardt (J_BᵀJ_B + λI)⁻¹J_Bᵀe_B (Woodbury) at the
cost of a b×b solve instead of a p×p one. For MLPs the Gram comes from ``netoptima.ntk.ntk_gram``'s
layerwise identity and Jᵀv from one backward pass of Σ_i v_i f_i, so J is never formed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from netoptima.conventions import check_choice, check_finite_loss, check_positive, check_real
from netoptima.ntk import METHODS, ntk_gram

__all__ = ["GramGaussNewton", "gram_solve"]

Closure = Callable[[], tuple[Tensor, Tensor]]


def gram_solve(G: Tensor, e: Tensor, damping: float) -> Tensor:
    """v = (G + λI)⁻¹ e by Cholesky; for a singular G at λ = 0 the pseudo-inverse (still minimum norm).

    Arguments:
        G: (N, N) symmetric PSD Gram.
        e: (N,) residuals.
        damping: λ ≥ 0.

    Returns:
        (N,) coefficients v.
    """
    A = G + damping * torch.eye(G.shape[0], dtype=G.dtype, device=G.device)  # (N, N)
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) == 0:
        return torch.cholesky_solve(e[:, None], L)[:, 0]  # (N,)
    # J without full row rank: Jᵀ G⁺ e = J⁺ e is still the minimum-norm least-squares step
    return torch.linalg.pinv(A, hermitian=True) @ e  # (N,)


class GramGaussNewton(Optimizer):
    """Gram-Gauss-Newton, w ← w − lr·Jᵀ(JJᵀ + λI)⁻¹(f − y) (Cai et al. 2019; dynamics.md §2.1).

    ``step(closure, inputs=X_B)`` calls ``closure()``, which evaluates the model on the batch and returns
    ``(outputs, residuals)``: ``outputs`` of shape (b,) or (b, c) still attached to the graph, and
    ``residuals`` = outputs − targets of the same shape. The Gram is ``ntk_gram(model, inputs)`` when the
    optimizer was given the ``model`` (layerwise for MLPs: J is never formed); without a model (or
    without ``inputs``) it is built from per-output gradients of ``outputs`` (forms J: any module).

    Arguments:
        params: the parameters to update; with ``model``, exactly its trainable parameters.
        lr: step size η > 0 (1 = the full Gauss-Newton step).
        damping: λ ≥ 0 added to the Gram's diagonal.
        model: the network, to get the Gram from ``ntk_gram``.
        method: ``ntk_gram``'s method (``"auto"``, ``"layerwise"`` or ``"func"``).

    One parameter group (the Gram couples all parameters). ``step`` returns the batch loss ½‖e_B‖²
    before the update; ``steps`` counts the updates.
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 1.0, damping: float = 1e-6, *,
                 model: nn.Module | None = None, method: str = "auto") -> None:
        lr = check_positive("lr", lr)
        damping = check_real("damping", damping, low=0.0)
        check_choice("method", method, METHODS)
        params = [p for p in params if p.requires_grad]
        if not params:
            raise ValueError("params must contain at least one tensor with requires_grad=True")
        if model is not None:
            trainable = {id(p) for p in model.parameters() if p.requires_grad}
            if {id(p) for p in params} != trainable:
                raise ValueError("params must be exactly the model's trainable parameters (the Gram of "
                                 "ntk_gram(model, X) is over all of them)")
        super().__init__(params, {"lr": lr, "damping": damping})
        self.model, self.method, self.steps, self.start = model, method, 0, None

    def _gram(self, outputs: Tensor, params: list[Tensor], inputs: Tensor | None) -> Tensor:
        if self.model is not None and inputs is not None:
            return ntk_gram(self.model, inputs, method=self.method)  # (N, N), no J
        flat = outputs.reshape(-1)  # (N,) sample-major, as ntk_gram
        eye = torch.eye(flat.numel(), dtype=flat.dtype, device=flat.device)
        rows = torch.autograd.grad(flat, params, grad_outputs=eye, is_grads_batched=True,
                                   retain_graph=True, allow_unused=True)  # each (N, *p.shape)
        G = torch.zeros(flat.numel(), flat.numel(), dtype=flat.dtype, device=flat.device)
        for J in rows:
            if J is not None:
                J = J.reshape(J.shape[0], -1)  # (N, #p)
                G.addmm_(J, J.T)
        return G

    def step(self, closure: Closure, *, inputs: Tensor | None = None) -> Tensor:  # type: ignore[override]
        """One GGN step on the batch evaluated by ``closure``; returns the batch loss ½‖e‖² before it."""
        if closure is None:
            raise ValueError("GramGaussNewton.step needs a closure returning (outputs, residuals)")
        with torch.enable_grad():
            got = closure()
        if not (isinstance(got, tuple) and len(got) == 2):
            raise ValueError("the closure must return (outputs, residuals) for the batch")
        outputs, residuals = got
        if not isinstance(outputs, Tensor) or not outputs.requires_grad:
            raise ValueError("outputs must be the model's outputs on the batch, attached to the autograd graph")
        if not isinstance(residuals, Tensor) or residuals.shape != outputs.shape:
            raise ValueError(f"residuals must be a tensor of the outputs' shape {tuple(outputs.shape)}, "
                             f"got {getattr(residuals, 'shape', type(residuals).__name__)}")
        group = self.param_groups[0]
        e = residuals.detach().reshape(-1)  # (N,) sample-major
        loss = 0.5 * (e * e).sum()
        if self.steps == 0:
            self.start = float(loss)  # the divergence rule compares with the first batch loss
        check_finite_loss(loss, step=self.steps, lr=group["lr"], start=self.start)
        params = group["params"]
        G = self._gram(outputs, params, inputs)  # (N, N)
        if G.shape[0] != e.numel():
            raise ValueError(f"the Gram is {tuple(G.shape)} but there are {e.numel()} residuals; "
                             "inputs must be the batch the outputs were computed on")
        v = gram_solve(G, e.to(G.dtype), group["damping"])  # (N,)
        # Jᵀv in one backward pass of Σ_i v_i f_i
        grads = torch.autograd.grad(outputs.reshape(-1), params, grad_outputs=v.to(outputs.dtype),
                                    allow_unused=True)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                if g is not None:
                    p.add_(g, alpha=-group["lr"])
        self.steps += 1
        return loss

    def add_param_group(self, param_group: dict) -> None:
        """Only the constructor's group: a second one would not be in the Gram."""
        if self.param_groups:
            raise ValueError("GramGaussNewton takes a single parameter group: the Gram couples all parameters")
        super().add_param_group(param_group)
