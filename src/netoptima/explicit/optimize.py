"""Losses, the reference optimum (full-batch L-BFGS) and minibatch backpropagation (spec A.2, A.6, A.7).

The single-layer softmax problem is convex in U (spec A.2), so L-BFGS run to a gradient tolerance gives its
global optimum (or, when the infimum sits at infinity because of zero counts, the optimal loss to within the
tolerance); every explicit solution is measured against it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from netoptima.conventions import check_choice, check_finite_loss, check_int, check_positive, progress
from netoptima.explicit.models import SoftmaxLM, check_ids
from netoptima.explicit.stats import ContextCounts

__all__ = ["LBFGSResult", "TrainResult", "accuracy", "classifier_loss", "classifier_preconditioner", "grad_norm",
           "lbfgs", "lm_loss", "lm_preconditioner", "train"]


def lm_loss(model: SoftmaxLM, data: ContextCounts, *, backward: bool = False, chunk_size: int = 4096) -> float:
    """Mean cross-entropy −(1/M) Σ_m log ŷ_{m,t_m} in nats/token over compressed data (spec A.2).

    The gradient is written by hand, (1/M)·Xᵀ(n_c·softmax(z) − counts) (spec A.2), one exp per logit and no
    autograd graph, because this is the inner loop of the L-BFGS optimum; the tests check it against autograd
    on the uncompressed token stream.

    Arguments:
        model: the LM (its ``context``, ``aggregate`` and vocabulary must match ``data``).
        data: :class:`~netoptima.explicit.stats.ContextCounts` (exactly the loss of the token stream).
        backward: also accumulate ∇ of the mean loss into the parameters' ``.grad``.
        chunk_size: distinct contexts per block (memory ``chunk_size · N`` floats).

    Returns:
        The mean loss as a float (accumulated in float64).
    """
    if (model.context, model.aggregate, model.vocab) != (data.context, data.aggregate, data.vocab):
        raise ValueError(f"model (K={model.context}, {model.aggregate}, N={model.vocab}) does not match data "
                         f"(K={data.context}, {data.aggregate}, N={data.vocab})")
    chunk_size = check_int("chunk_size", chunk_size, low=1)
    U, b, M = model.U, model.b, data.n_positions
    dev = U.device  # the statistics stay where they were built (CPU); each chunk visits the model's device
    if backward:
        for p in model.parameters():
            if p.grad is None:
                p.grad = torch.zeros_like(p)
    C = data.contexts.shape[0]
    starts = list(range(0, C, chunk_size)) + [C]
    bounds = torch.searchsorted(data.pair_context, torch.tensor(starts)).tolist()  # pair range of each chunk
    total = 0.0
    with torch.no_grad():
        for k in range(len(starts) - 1):
            c0, c1, p0, p1 = starts[k], starts[k + 1], bounds[k], bounds[k + 1]
            rows = model.rows(data.contexts[c0:c1].to(dev))  # (c, K)
            z = F.embedding_bag(rows, U, mode="sum")  # (c, N)
            if b is not None:
                z += b
            pc, pt = (data.pair_context[p0:p1] - c0).to(dev), data.pair_target[p0:p1].to(dev)  # (p,) observed pairs
            n_c = data.context_counts[c0:c1].to(dev, z.dtype)
            n_p = data.pair_counts[p0:p1].to(dev, z.dtype)
            hit = z[pc, pt]  # (p,) logits of the observed targets, read before z is overwritten
            zmax = z.max(dim=1, keepdim=True).values  # (c, 1)
            E = z.sub_(zmax).exp_()  # (c, N) exp(z − max), in place
            S = E.sum(dim=1)  # (c,)
            lse = zmax.squeeze(1) + S.log()  # (c,)
            total += float(((n_c * lse).sum() - (n_p * hit).sum()) / M)
            if backward:
                G = E.mul_((n_c / (S * M))[:, None])  # (c, N) n_c·softmax / M
                G.index_put_((pc, pt), -n_p / M, accumulate=True)  # − counts / M
                for j in range(rows.shape[1]):  # Xᵀ G without X: add G's rows into the rows of U they read
                    U.grad.index_add_(0, rows[:, j], G)
                if b is not None:
                    b.grad += G.sum(0)
    return total


def _n_classes(model: nn.Module) -> int | None:
    """The number of output classes of the part's models (``None`` for another module)."""
    for owner in (model, getattr(model, "layer2", None)):
        for attr in ("n_classes", "vocab"):
            if isinstance(getattr(owner, attr, None), int):
                return getattr(owner, attr)
    return None


def _check_labelled(model: nn.Module, x: Any, y: Any, *, xname: str = "x", yname: str = "y") -> None:
    """Inputs with at least one row and one integer label in [0, C) per row (ValueError naming the argument)."""
    for name, T in ((xname, x), (yname, y)):
        if not isinstance(T, Tensor) or T.ndim == 0 or T.shape[0] == 0:
            got = tuple(T.shape) if isinstance(T, Tensor) else type(T).__name__
            raise ValueError(f"{name} must be a tensor with at least one row, got {got}")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"{yname} must be ({x.shape[0]},): one label per row of {xname}, got {tuple(y.shape)}")
    check_ids(yname, y, _n_classes(model) or 2**62)


def classifier_loss(model: nn.Module, x: Tensor, y: Tensor, *, backward: bool = False,
                    chunk_size: int = 16384) -> float:
    """Mean cross-entropy of a classifier on ``(x, y)``; optionally accumulates ∇ into ``.grad``.

    Raises:
        ValueError: ``x`` or ``y`` empty, of mismatched length, or labels that are not integers in [0, C).
    """
    chunk_size = check_int("chunk_size", chunk_size, low=1)
    _check_labelled(model, x, y)
    dev = _device_of(model)
    total = 0.0
    for xs, ys in zip(x.split(chunk_size), y.split(chunk_size), strict=True):
        with torch.set_grad_enabled(backward):
            part = F.cross_entropy(model(xs.to(dev)), ys.to(dev), reduction="sum") / x.shape[0]
            if backward:
                part.backward()
        total += float(part.detach())
    return total


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor, *, chunk_size: int = 16384) -> float:
    """Fraction of ``x`` whose arg-max logit is the label ``y``.

    Raises:
        ValueError: ``x`` or ``y`` empty, of mismatched length, or labels that are not integers in [0, C).
    """
    chunk_size = check_int("chunk_size", chunk_size, low=1)
    _check_labelled(model, x, y)
    dev = _device_of(model)
    hits = sum(int((model(xs.to(dev)).argmax(1) == ys.to(dev)).sum())
               for xs, ys in zip(x.split(chunk_size), y.split(chunk_size), strict=True))
    return hits / x.shape[0]


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _place(model: nn.Module, device: str | torch.device, dtype: torch.dtype | None) -> None:
    """Move ``model`` to ``device`` (and ``dtype`` when given) in place, validating both."""
    check_choice("dtype", dtype, [None, torch.float32, torch.float64])
    model.to(device=torch.device(device))
    if dtype is not None:
        model.to(dtype=dtype)


def grad_norm(model: nn.Module, objective: Callable[[bool], float]) -> tuple[float, float]:
    """``(loss, ‖∇loss‖₂)`` of the full-batch objective at the current parameters."""
    model.zero_grad(set_to_none=True)
    loss = objective(True)
    g = torch.cat([p.grad.reshape(-1).double() for p in model.parameters() if p.grad is not None])
    model.zero_grad(set_to_none=True)
    return loss, float(g.norm())


@dataclass(frozen=True)
class LBFGSResult:
    """Outcome of :func:`lbfgs`: final loss, gradient norms (2 and ∞), iterations, evaluations, seconds."""

    loss: float
    grad_norm: float
    grad_max: float
    iterations: int
    evaluations: int
    converged: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lbfgs(model: nn.Module, objective: Callable[[bool], float], *, grad_tol: float = 1e-5, max_iter: int = 500,
          history: int = 20, scale: dict[str, Tensor] | None = None,
          on_iter: Callable[[int, float], None] | None = None, device: str | torch.device = "cpu",
          dtype: torch.dtype | None = None) -> LBFGSResult:
    """Full-batch L-BFGS (strong Wolfe line search) until max |∂L/∂θ| ≤ ``grad_tol`` (spec A.2 "convex").

    Arguments:
        model: its parameters are optimised in place (after moving it to ``device`` / ``dtype``).
        objective: ``objective(backward) -> loss``, the full-batch loss; with ``backward=True`` it must
            accumulate the gradient into ``.grad`` (e.g. ``lambda b: lm_loss(model, data, backward=b)``;
            :func:`lm_loss` and :func:`classifier_loss` bring their data to the model's device chunk by chunk).
        grad_tol: stop when the largest gradient entry is ≤ this (torch's ``tolerance_grad``).
        max_iter: iteration cap.
        history: L-BFGS memory.
        scale: optional diagonal preconditioner ``{parameter name: S}``: L-BFGS runs on φ with θ = S ⊙ φ
            (S broadcastable to θ, positive). It changes the path, not the optimum; ``grad_tol`` and the
            reported gradient are always in the original parameters θ.
        on_iter: called as ``on_iter(evaluation, loss)`` after every function evaluation (for curves).
        device: where the model is optimised.
        dtype: parameter dtype (``None`` keeps the model's).

    Returns:
        :class:`LBFGSResult`; ``converged`` is whether the gradient tolerance was met.

    Raises:
        TrainingDiverged: the loss became non-finite, or 1e4 × above the starting loss.
    """
    grad_tol = check_positive("grad_tol", grad_tol)
    max_iter = check_int("max_iter", max_iter, low=1)
    _place(model, device, dtype)
    named = {n: p for n, p in model.named_parameters() if p.requires_grad}
    params = list(named.values())
    scale = dict(scale or {})
    unknown = set(scale) - set(named)
    if unknown:
        raise ValueError(f"scale names unknown parameters {sorted(unknown)}; parameters: {sorted(named)}")
    S = [None if scale.get(n) is None else scale[n].to(p.device, p.dtype).expand_as(p) for n, p in named.items()]
    for n, s in zip(named, S, strict=True):
        if s is not None and not bool((s > 0).all()):
            raise ValueError(f"scale[{n!r}] must be positive everywhere")
    # φ = θ / S are the variables L-BFGS sees; its tolerance test is disabled (0) and done here on θ
    phi = [p.detach().clone() if s is None else (p.detach() / s).clone() for p, s in zip(params, S, strict=True)]
    for v in phi:
        v.requires_grad_(True)
    opt = torch.optim.LBFGS(phi, lr=1.0, max_iter=max_iter, max_eval=2 * max_iter,
                            tolerance_grad=grad_tol if not scale else 0.0, tolerance_change=1e-14,
                            history_size=history, line_search_fn="strong_wolfe")
    evals, gmax, start = 0, float("inf"), None

    def closure() -> Tensor:
        nonlocal evals, gmax, start
        with torch.no_grad():
            for p, v, s in zip(params, phi, S, strict=True):
                p.copy_(v if s is None else v * s)
        model.zero_grad(set_to_none=False)
        loss = check_finite_loss(objective(True), step=evals, lr=1.0, start=start)
        start = loss if start is None else start
        gmax = max(float(p.grad.abs().max()) for p in params)
        for p, v, s in zip(params, phi, S, strict=True):
            v.grad = p.grad.clone() if s is None else p.grad * s  # chain rule: ∂L/∂φ = S ⊙ ∂L/∂θ
        if scale and gmax <= grad_tol:  # converged in θ: make L-BFGS stop on its own test
            for v in phi:
                v.grad.zero_()
        evals += 1
        if on_iter is not None:
            on_iter(evals, loss)
        return torch.tensor(loss, dtype=torch.float64)

    t0 = time.perf_counter()
    opt.step(closure)
    seconds = time.perf_counter() - t0
    with torch.no_grad():  # the last closure call may have been a rejected line-search point: use φ's final value
        for p, v, s in zip(params, phi, S, strict=True):
            p.copy_(v if s is None else v * s)
    model.zero_grad(set_to_none=True)
    loss = objective(True)
    g = torch.cat([p.grad.reshape(-1).double() for p in params])
    model.zero_grad(set_to_none=True)
    state = opt.state[phi[0]]
    return LBFGSResult(loss=loss, grad_norm=float(g.norm()), grad_max=float(g.abs().max()),
                       iterations=int(state.get("n_iter", 0)), evaluations=evals,
                       converged=bool(g.abs().max() <= grad_tol), seconds=seconds)


def lm_preconditioner(F: Tensor, n_positions: float, *, eps: float = 0.5) -> Tensor:
    """Diagonal scale S = (M / (F + eps))^½ for :func:`lbfgs` on the LM's U.

    Why: the diagonal of the Hessian of the mean cross-entropy is (1/M) Σ_m x_{mi}² ŷ_{mj}(1 − ŷ_{mj}) ≈
    (1/M)(XᵀŶ)_ij, and at a stationary point XᵀŶ = F; so F/M is the curvature of entry (i, j), which spans
    orders of magnitude (Zipf). ``eps`` (in counts) caps the scale of never-seen pairs.
    """
    check_positive("eps", eps)
    return (check_positive("n_positions", n_positions) / (F.double() + eps)).sqrt()


def classifier_preconditioner(x: Tensor, n_classes: int) -> dict[str, Tensor]:
    """Diagonal scales for :func:`lbfgs` on a classifier's ``W`` (d, C) and ``b`` (C,).

    Why: the Gauss-Newton diagonal of W_ic is E[x_i² ŷ_c(1 − ŷ_c)] ≈ E[x_i²]·(1/C)(1 − 1/C), and 1/C(1 − 1/C) for
    b; S = (diagonal + 1e-3)^(-½) makes all directions comparably curved (the 1e-3 caps always-zero pixels).
    """
    C = check_int("n_classes", n_classes, low=2)
    p = (1 / C) * (1 - 1 / C)
    m2 = x.double().pow(2).mean(0)  # (d,)
    S_W = (1.0 / (p * m2 + 1e-3)).sqrt()[:, None].expand(x.shape[1], C).contiguous()  # (d, C)
    return {"W": S_W, "b": torch.full((C,), (1.0 / (p + 1e-3)) ** 0.5, dtype=torch.float64)}


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train`.

    Attributes:
        curve: the records ``{"epoch", "step", "seconds" (training time, evaluation excluded), "batch_loss",
            **evaluate()}``, taken before training and every ``eval_every`` steps.
        steps: optimizer steps taken (fewer than asked when ``stop`` fired).
        steps_per_epoch: minibatches per pass over the data.
        seconds: training time, evaluation excluded.
        batch_loss: the last minibatch loss.
    """

    curve: tuple[dict[str, float], ...]
    steps: int
    steps_per_epoch: int
    seconds: float
    batch_loss: float


def train(model: nn.Module, inputs: Tensor, targets: Tensor, *, lr: float, steps: int | None = None,
          epochs: float | None = None, batch_size: int = 1024, optimizer: str = "adam", momentum: float = 0.0,
          seed: int = 0, evaluate: Callable[[], dict[str, float]] | None = None, eval_every: int | None = None,
          evals_per_epoch: int | None = None, stop: Callable[[dict[str, float]], bool] | None = None,
          device: str | torch.device = "cpu", dtype: torch.dtype | None = None, desc: str = "train",
          quiet: bool | None = None, fused: bool = False) -> TrainResult:
    """Minibatch backpropagation (Adam or SGD) on the mean cross-entropy, recording a curve (spec A.6).

    Arguments:
        model: maps ``inputs[idx]`` to logits; moved to ``device`` / ``dtype`` and trained in place.
        inputs: ``(M, ...)`` model inputs (context ids or features); targets ``(M,)`` labels. They stay where
            they are; each minibatch is moved to ``device`` (floating inputs also to the model's dtype).
        lr: learning rate > 0.
        steps: optimizer steps; or give ``epochs`` (passes over the data, fractional allowed), converted here
            to ``round(epochs · ceil(M / batch_size))`` steps (at least 1). Exactly one of the two.
        batch_size: positions per step.
        optimizer: ``"adam"`` or ``"sgd"``.
        momentum: SGD momentum in [0, 1).
        seed: shuffling seed.
        evaluate: called before training and every ``eval_every`` steps (and after the last); its dict is
            recorded.
        eval_every: steps between evaluations; or ``evals_per_epoch`` (default 1 per epoch).
        stop: stop early once ``stop(record)`` is true.
        device: where the model trains.
        dtype: parameter dtype (``None`` keeps the model's).
        desc, quiet: progress bar label / silence.
        fused: Adam as one fused kernel (the same update up to float rounding). Why: Adam is dense over all of U
            although a minibatch reads a few rows; at U = 5000 x 5000 the per-tensor passes cost 240 ms/step and
            the fused kernel 68 ms/step on one core (measured, torch 2.x CPU).

    Returns:
        :class:`TrainResult`.

    Raises:
        TrainingDiverged: a minibatch loss became non-finite or 1e4 × above the first minibatch's loss.
        ValueError: a bad option; inputs / targets empty, of mismatched length, or labels not integers in [0, C).
    """
    check_choice("optimizer", optimizer, ("adam", "sgd"))
    lr = check_positive("lr", lr)
    batch_size = check_int("batch_size", batch_size, low=1)
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    _check_labelled(model, inputs, targets, xname="inputs", yname="targets")
    M = inputs.shape[0]
    steps_per_epoch = -(-M // batch_size)
    if (steps is None) == (epochs is None):
        raise ValueError(f"give exactly one of steps and epochs, got steps={steps!r}, epochs={epochs!r}")
    total = (check_int("steps", steps, low=1) if steps is not None
             else max(1, round(check_positive("epochs", epochs) * steps_per_epoch)))
    if eval_every is not None and evals_per_epoch is not None:
        raise ValueError("give at most one of eval_every and evals_per_epoch")
    every = (check_int("eval_every", eval_every, low=1) if eval_every is not None
             else max(1, steps_per_epoch // check_int("evals_per_epoch", evals_per_epoch or 1, low=1)))
    _place(model, device, dtype)
    dev, wdtype = _device_of(model), next(model.parameters()).dtype
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (torch.optim.Adam(params, lr=lr, fused=bool(fused) or None) if optimizer == "adam"
           else torch.optim.SGD(params, lr=lr, momentum=momentum))
    gen = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    seconds, batch_loss, start, done = 0.0, float("nan"), None, 0

    def record(step: int) -> bool:
        rec = {"epoch": step / steps_per_epoch, "step": step, "seconds": seconds, "batch_loss": batch_loss}
        if evaluate is not None:
            rec.update(evaluate())
        history.append(rec)
        return stop is not None and stop(rec)

    if not record(0):
        order = torch.randperm(M, generator=gen)
        for step in progress(range(1, total + 1), desc=desc, total=total, quiet=quiet):
            t0 = time.perf_counter()
            pos = (step - 1) % steps_per_epoch
            if pos == 0 and step > 1:
                order = torch.randperm(M, generator=gen)
            idx = order[pos * batch_size: (pos + 1) * batch_size]
            xb = inputs[idx].to(dev, wdtype) if inputs.is_floating_point() else inputs[idx].to(dev)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), targets[idx].to(dev))
            loss.backward()
            opt.step()
            batch_loss = check_finite_loss(loss.detach(), step=step, lr=lr, start=start)
            start = batch_loss if start is None else start
            seconds += time.perf_counter() - t0
            done = step
            if (step % every == 0 or step == total) and record(step):
                break
    return TrainResult(tuple(history), done, steps_per_epoch, seconds, batch_loss)
