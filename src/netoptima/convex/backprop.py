"""The backprop baseline: SGD / Adam on the same non-convex objective, u_j projected to the sphere each step.

Bartan & Pilanci's comparison (spec §3.4, [R]): the SDP value is the global optimum, and local training from
random initialisations "often fails to reach" it. Each run here ends with its certificate (§3.6), so the
failure is measured, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from netoptima.conventions import (
    TrainingDiverged,
    check_choice,
    check_finite_loss,
    check_int,
    check_positive,
    check_real,
    progress,
    seed_everything,
)
from netoptima.convex.model import PAPER_ACTIVATION, QuadraticActivationNet, as_data, check_loss, torch_loss

__all__ = ["OPTIMIZERS", "BackpropResult", "fit_backprop"]

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")


@dataclass
class BackpropResult:
    """A trained network and its objective every ``record_every`` steps (float64)."""

    net: QuadraticActivationNet
    objectives: list[float] = field(default_factory=list)
    steps: int = 0


def fit_backprop(X: Any, y: Any, *, activation: Any = PAPER_ACTIVATION, beta: float, width: int,
                 optimizer: str = "adam", lr: float = 1e-2, steps: int = 2000, seed: int = 0,
                 init_scale: float = 1.0, batch_size: int | None = None, momentum: float = 0.0,
                 loss: str = "squared", delta: float = 1.0, record_every: int = 50,
                 quiet: bool | None = True) -> BackpropResult:
    """Train ``QuadraticActivationNet`` on ℓ(f(X), y) + β Σ|α_j| by SGD or Adam with projection to the sphere.

    Arguments:
        X: inputs (n, d); y: targets (n,).
        activation: (a, b, c).
        beta: ℓ1 weight β > 0.
        width: number of neurons m (2(d+1) is always enough to represent the global optimum).
        optimizer: ``"sgd"`` (``momentum``) or ``"adam"``.
        lr: learning rate.
        steps: optimisation steps.
        seed: initialisation (and mini-batch) seed.
        init_scale: scale of the initial output weights (α_j ~ N(0, init_scale²/m)).
        batch_size: mini-batch size (``None``: full batch). The loss of a batch is rescaled by n/batch.
        loss: ``"squared"``, ``"l1"`` or ``"huber"`` (``delta``).
        record_every: record the full objective every this many steps.

    Returns:
        :class:`BackpropResult`.

    Raises:
        TrainingDiverged: the objective stopped being finite (names the step and the learning rate).
    """
    beta = check_positive("beta", beta)
    width = check_int("width", width, low=1)
    optimizer = check_choice("optimizer", optimizer, OPTIMIZERS)
    lr = check_positive("lr", lr)
    steps = check_int("steps", steps, low=1)
    momentum = check_real("momentum", momentum, low=0.0, high=1.0)
    record_every = check_int("record_every", record_every, low=1)
    loss, delta = check_loss(loss, delta)
    Xn, yn = as_data(X, y)
    n, d = Xn.shape
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, low=1, high=n)
    gen = seed_everything(seed)
    net = QuadraticActivationNet(d, width, activation=activation, generator=gen, init_scale=init_scale)
    Xt, yt = torch.from_numpy(Xn), torch.from_numpy(yn)
    opt = (torch.optim.Adam(net.parameters(), lr=lr) if optimizer == "adam"
           else torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum))
    out = BackpropResult(net=net)
    # small problems: torch's intra-op threads cost more than they save (7x slower with 2 threads on a busy
    # 2-core machine for n·d·m ≈ 2,400); restore the caller's setting afterwards
    threads = torch.get_num_threads()
    if n * d * width < 2_000_000:
        torch.set_num_threads(1)
    try:
        _train(net, opt, Xt, yt, out, beta=beta, steps=steps, lr=lr, batch_size=batch_size, gen=gen, loss=loss,
               delta=delta, record_every=record_every, quiet=quiet, desc=f"{optimizer} lr={lr:g}")
    finally:
        torch.set_num_threads(threads)
    out.steps = steps
    return out


def _train(net: QuadraticActivationNet, opt: torch.optim.Optimizer, Xt: torch.Tensor, yt: torch.Tensor,
           out: BackpropResult, *, beta: float, steps: int, lr: float, batch_size: int | None,
           gen: torch.Generator, loss: str, delta: float, record_every: int, quiet: bool | None, desc: str) -> None:
    n = Xt.shape[0]
    for step in progress(range(steps), desc=desc, quiet=quiet):
        if batch_size is None:
            Xb, yb, scale = Xt, yt, 1.0
        else:
            idx = torch.randperm(n, generator=gen)[:batch_size]
            Xb, yb, scale = Xt[idx], yt[idx], n / batch_size
        obj = scale * torch_loss(net(Xb), yb, loss, delta=delta) + beta * net.penalty()
        check_finite_loss(obj.detach(), step=step, lr=lr)
        opt.zero_grad(set_to_none=True)
        obj.backward()
        opt.step()
        net.project_()  # the constraint ‖u_j‖ = 1 is part of the problem
        if net.max_norm_error() > 1e-6:  # a row overflowed (‖u‖ = inf → u/‖u‖ = 0): the step size is too large
            raise TrainingDiverged(step, lr)
        if step % record_every == 0 or step == steps - 1:
            with torch.no_grad():
                full = torch_loss(net(Xt), yt, loss, delta=delta) + beta * net.penalty()
            out.objectives.append(check_finite_loss(full, step=step, lr=lr))
