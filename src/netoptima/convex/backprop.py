"""The backprop baseline: SGD / Adam on the same non-convex objective, u_j projected to the sphere each step.

Bartan & Pilanci's comparison (spec §3.4, [R]): the SDP value is the global optimum, and local training from
random initialisations "often fails to reach" it. Each run here ends with its certificate (§3.6), so the
failure is measured, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    torch_threads,
)
from netoptima.convex.model import PAPER_ACTIVATION, QuadraticActivationNet, as_data, check_loss, torch_loss

__all__ = ["OPTIMIZERS", "BackpropResult", "fit_backprop"]

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")


@dataclass(frozen=True)
class BackpropResult:
    """A trained network and its full objective every ``record_every`` steps (float64 on the CPU).

    Attributes:
        net: the trained network (on ``device``, in ``dtype``).
        objectives: the objective at steps 0, record_every, 2·record_every, …, and at the last step.
        steps: the number of optimisation steps taken.
    """

    net: QuadraticActivationNet
    objectives: tuple[float, ...]
    steps: int


def fit_backprop(X: Any, y: Any, *, activation: Any = PAPER_ACTIVATION, beta: float, width: int,
                 optimizer: str = "adam", lr: float = 1e-2, steps: int = 2000, seed: int = 0,
                 init_scale: float = 1.0, batch_size: int | None = None, momentum: float = 0.0,
                 loss: str = "squared", delta: float = 1.0, record_every: int = 50,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64,
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
        device: torch device of the net and the data.
        dtype: ``torch.float64`` (default: certificates compare objectives to 1e-7) or ``torch.float32``.
        quiet: progress bar switch (see ``netoptima.conventions.progress``).

    Returns:
        :class:`BackpropResult`.

    Raises:
        TrainingDiverged: the objective stopped being finite or blew up 1e4-fold over its start (names the step
            and the learning rate).
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
    dtype = check_choice("dtype", dtype, [torch.float32, torch.float64])
    device = torch.device(device)
    gen = seed_everything(seed)  # a CPU generator: the same initialisation on every device
    net = QuadraticActivationNet(d, width, activation=activation, generator=gen, init_scale=init_scale,
                                 dtype=dtype).to(device)
    Xt, yt = torch.from_numpy(Xn).to(device, dtype), torch.from_numpy(yn).to(device, dtype)
    opt = (torch.optim.Adam(net.parameters(), lr=lr) if optimizer == "adam"
           else torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum))
    # small problems: torch's intra-op threads cost more than they save (7x slower with 2 threads on a busy
    # 2-core machine for n·d·m ≈ 2,400)
    with torch_threads(1 if n * d * width < 2_000_000 and device.type == "cpu" else None):
        objectives = _train(net, opt, Xt, yt, beta=beta, steps=steps, lr=lr, batch_size=batch_size, gen=gen,
                            loss=loss, delta=delta, record_every=record_every, quiet=quiet,
                            desc=f"{optimizer} lr={lr:g}")
    return BackpropResult(net=net, objectives=tuple(objectives), steps=steps)


def _train(net: QuadraticActivationNet, opt: torch.optim.Optimizer, Xt: torch.Tensor, yt: torch.Tensor, *,
           beta: float, steps: int, lr: float, batch_size: int | None, gen: torch.Generator, loss: str,
           delta: float, record_every: int, quiet: bool | None, desc: str) -> list[float]:
    n = Xt.shape[0]
    objectives: list[float] = []
    with torch.no_grad():
        start = float(torch_loss(net(Xt), yt, loss, delta=delta) + beta * net.penalty())
    for step in progress(range(steps), desc=desc, quiet=quiet):
        if batch_size is None:
            Xb, yb, scale = Xt, yt, 1.0
        else:
            idx = torch.randperm(n, generator=gen)[:batch_size].to(Xt.device)
            Xb, yb, scale = Xt[idx], yt[idx], n / batch_size
        obj = scale * torch_loss(net(Xb), yb, loss, delta=delta) + beta * net.penalty()
        check_finite_loss(obj.detach(), step=step, lr=lr, start=start)
        opt.zero_grad(set_to_none=True)
        obj.backward()
        opt.step()
        net.project_()  # the constraint ‖u_j‖ = 1 is part of the problem
        if net.max_norm_error() > 1e-6:  # a row overflowed (‖u‖ = inf → u/‖u‖ = 0): the step size is too large
            raise TrainingDiverged(step, lr)
        if step % record_every == 0 or step == steps - 1:
            with torch.no_grad():
                full = torch_loss(net(Xt), yt, loss, delta=delta) + beta * net.penalty()
            objectives.append(check_finite_loss(full, step=step, lr=lr, start=start))
    return objectives
