"""Run functions of the dynamics part: top-level ``config -> JSON dict`` functions (they pickle to workers).

* :func:`theory_run` - the Du et al. net (NTK parametrisation, unit-norm inputs) trained with GD / HB / NAG,
  with its measured errors against the limiting ODE and the linearised recursion (both with H∞) and the drift
  of its empirical kernel;
* :func:`notebook_run` - one run of the official notebook (``TwoLayerMLP`` on MNIST, ``nn.MSELoss``);
* :func:`ggn_residual_run` - full-batch Gram-Gauss-Newton on a wide smooth net, the residual sequence;
* :func:`regression_run` - GGN against SGD / Adam on a real regression task, loss and wall time per epoch.

Every config carries ``device`` (added by the runner) and may carry ``threads`` (torch intra-op threads for the
run, default 1: the runs are small, and on a shared machine two spinning threads slow each other down).
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from netoptima.conventions import TrainingDiverged, check_choice, check_int, torch_threads
from netoptima.dynamics.data import regression_data, theory_data
from netoptima.dynamics.ode import linearized_error, loss_of_error, predicted_error
from netoptima.dynamics.optim import GD, HeavyBall, Nesterov
from netoptima.sweep import run_fn

__all__ = ["ggn_residual_run", "notebook_run", "regression_run", "relative_gap", "smooth_wide_net", "theory_run"]


def relative_gap(e: np.ndarray, e_ref: np.ndarray) -> float:
    """sup_k ‖e_k − ê_k‖ / ‖e_0‖: the largest deviation of an error trajectory from a reference one."""
    return float(np.linalg.norm(e - e_ref, axis=1).max() / np.linalg.norm(e[0]))


def _theory_optimizer(config: dict[str, Any], params: Any) -> torch.optim.Optimizer:
    method, lr = config["method"], config["lr"]
    if method == "gd":
        return GD(params, lr)
    if method == "hb":
        return HeavyBall(params, lr, config["momentum"])
    return Nesterov(params, lr, config["r"])


@run_fn(version=1)
def theory_run(config: dict[str, Any]) -> dict[str, Any]:
    """Train ``TwoLayerReLUNTK`` (float64, ½‖u − y‖²) and compare with the H∞ predictions.

    Config keys: ``n``, ``width``, ``seed``, ``method`` (gd / hb / nag), ``lr``, ``steps``, ``momentum`` (hb)
    or ``r`` (nag), ``device``; optional ``threads``.

    Returns:
        ``loss`` (steps + 1), ``ode_loss`` (the limiting ODE with H∞ from the measured e0) and ``lin_loss`` (the
        optimizer's recursion on the linearised model with H∞: m → ∞ at this η); ``gap_ode`` /
        ``gap_lin``: :func:`relative_gap` of the measured errors to the ODE and to the linearised recursion
        with H∞ (the infinite-width dynamics at this η); ``kernel_drift`` ‖H(T) − H(0)‖_F/‖H(0)‖_F and
        ``kernel_gap`` ‖H(0) − H∞‖_F/‖H∞‖_F (the NTK regime's mechanism); ``e0``; ``eig_inf`` (eigenvalues of
        H∞); ``lambda_min_0`` (λ_min of H(0)).
    """
    from netoptima.dynamics.train import train_full_batch
    from netoptima.models import TwoLayerReLUNTK
    from netoptima.ntk import ntk_gram, relu_ntk_infinite

    check_choice("method", config["method"], ("gd", "hb", "nag"))
    device = config["device"]
    with torch_threads(config.get("threads", 1)):
        X, y = theory_data(config["n"])
        X, y = X.to(device), y.to(device)
        gen = torch.Generator().manual_seed(config["seed"])
        model = TwoLayerReLUNTK(X.shape[1], config["width"], generator=gen, dtype=torch.float64).to(device)
        H0 = ntk_gram(model, X).cpu().numpy()  # (n, n) empirical Gram at initialisation
        Hinf = relu_ntk_infinite(X).cpu().numpy()  # (n, n)
        opt = _theory_optimizer(config, model.parameters())
        out = train_full_batch(model, X, y, opt, steps=config["steps"], record_errors=True, quiet=True,
                               desc=f"{config['method']} m={config['width']}")
        HT = ntk_gram(model, X).cpu().numpy()  # (n, n) after training
    e = out.errors  # (K + 1, n)
    hyper = {"momentum": config.get("momentum"), "r": config.get("r")}
    ks = np.arange(config["steps"] + 1)
    e_ode = predicted_error(config["method"], Hinf, e[0], ks, config["lr"], **hyper)  # (K + 1, n)
    e_lin = linearized_error(config["method"], Hinf, e[0], config["steps"], config["lr"], **hyper)
    return {"loss": out.loss.tolist(), "ode_loss": loss_of_error(e_ode).tolist(),
            "lin_loss": loss_of_error(e_lin).tolist(),
            "gap_ode": relative_gap(e, e_ode), "gap_lin": relative_gap(e, e_lin), "e0": e[0].tolist(),
            "kernel_drift": float(np.linalg.norm(HT - H0) / np.linalg.norm(H0)),
            "kernel_gap": float(np.linalg.norm(H0 - Hinf) / np.linalg.norm(Hinf)),
            "eig_inf": np.linalg.eigvalsh(Hinf).tolist(), "lambda_min_0": float(np.linalg.eigvalsh(H0)[0])}


@run_fn(version=1)
def notebook_run(config: dict[str, Any]) -> dict[str, Any]:
    """One official-notebook run (see ``notebook.notebook_loss_curve``); a divergence is a result, not a crash.

    Config keys: ``n``, ``width``, ``optimizer``, ``lr``, ``epochs``, ``seed``, ``device``, optional
    ``momentum``, ``r``, ``beta2``, ``rowspace``, ``threads``.

    Returns:
        ``loss``: the per-epoch loss record (epochs 1 … E), or ``diverged`` with the epoch.
    """
    from netoptima.dynamics import notebook

    keys = ("momentum", "r", "beta2", "rowspace")
    try:
        with torch_threads(config.get("threads", 1)):
            loss = notebook.notebook_loss_curve(
                n=config["n"], width=config["width"], optimizer=config["optimizer"], lr=config["lr"],
                epochs=config["epochs"], seed=config["seed"], device=config["device"],
                **{k: config[k] for k in keys if k in config})
    except TrainingDiverged as exc:
        return {"loss": [], "diverged": exc.step + 1}
    return {"loss": loss, "diverged": None}


def smooth_wide_net(d: int, width: int, *, seed: int, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """A wide smooth two-layer net in NTK parametrisation: (1/√m) Σ_r a_r softplus(w_rᵀx), a_r = ±1 frozen.

    The smooth activation is what GGN's quadratic-convergence analysis assumes (dynamics.md §2.2).
    """
    gen = torch.Generator().manual_seed(seed)
    hidden = nn.Linear(d, width, bias=False, dtype=dtype)
    output = nn.Linear(width, 1, bias=False, dtype=dtype)
    with torch.no_grad():
        hidden.weight.copy_(torch.randn(width, d, generator=gen, dtype=dtype))  # (m, d), w_r ~ N(0, I)
        signs = torch.randint(0, 2, (1, width), generator=gen).to(dtype) * 2 - 1  # (1, m)
        output.weight.copy_(signs / math.sqrt(width))
    output.weight.requires_grad_(False)
    return nn.Sequential(hidden, nn.Softplus(), output)


@run_fn(version=1)
def ggn_residual_run(config: dict[str, Any]) -> dict[str, Any]:
    """Full-batch GGN (lr 1) on :func:`smooth_wide_net`: the residual norms ‖e_t‖.

    Config keys: ``n``, ``width``, ``seed``, ``steps``, ``damping``, ``device``; optional ``threads``.

    Returns:
        ``residuals`` [‖e_0‖, …, ‖e_T‖] and ``lambda_min_0`` (λ_min of the Gram at initialisation).
    """
    from netoptima.dynamics.ggn import GramGaussNewton
    from netoptima.ntk import ntk_gram

    device = config["device"]
    with torch_threads(config.get("threads", 1)):
        X, y = theory_data(config["n"])
        X, y = X.to(device), y.to(device)
        model = smooth_wide_net(X.shape[1], config["width"], seed=config["seed"]).to(device)
        lam0 = float(torch.linalg.eigvalsh(ntk_gram(model, X))[0])
        opt = GramGaussNewton(model.parameters(), lr=1.0, damping=config["damping"], model=model)

        def closure() -> tuple[Tensor, Tensor]:
            f = model(X).squeeze(-1)  # (n,)
            return f, f - y

        residuals = []
        for _ in range(config["steps"]):
            residuals.append(math.sqrt(2 * float(opt.step(closure, inputs=X))))
        with torch.no_grad():
            residuals.append(float(torch.linalg.vector_norm(model(X).squeeze(-1) - y)))
    return {"residuals": residuals, "lambda_min_0": lam0}


def _mse(model: nn.Module, X: Tensor, y: Tensor) -> float:
    with torch.no_grad():
        return float(((model(X).squeeze(-1) - y) ** 2).mean())


def _minibatch_step(name: str, model: nn.Module, opt: Any, Xb: Tensor, yb: Tensor) -> None:
    if name == "ggn":
        def closure() -> tuple[Tensor, Tensor]:
            f = model(Xb).squeeze(-1)  # (b,)
            return f, f - yb

        opt.step(closure, inputs=Xb)
    else:
        opt.zero_grad(set_to_none=True)
        ((model(Xb).squeeze(-1) - yb) ** 2).mean().backward()
        opt.step()


def _regression_optimizer(name: str, model: nn.Module, lr: float, config: dict[str, Any]) -> Any:
    from netoptima.dynamics.ggn import GramGaussNewton

    if name == "ggn":
        return GramGaussNewton(model.parameters(), lr=lr, damping=config["ggn_damping"], model=model)
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return torch.optim.Adam(model.parameters(), lr=lr)


@run_fn(version=2)
def regression_run(config: dict[str, Any]) -> dict[str, Any]:
    """Train the same MLP with GGN and with SGD / Adam at several learning rates, back to back in one process
    (so their wall times see the same machine load). Each setting first takes one untimed step on a throwaway
    copy: the process's first GGN step paid ~0.55 s of one-off start-up (measured: 0.59 s against 0.03 s per
    later epoch on diabetes), which would have been charged to whichever optimizer ran first.

    Config keys: ``task``, ``seed``, ``epochs``, ``batch``, ``width``, ``ggn_lr``, ``ggn_damping``, ``sgd_lrs``
    (SGD with momentum 0.9), ``adam_lrs``, ``device``; optional ``threads``.

    Returns:
        ``curves``: one entry per optimizer setting with ``name``, ``lr``, ``loss`` (full training MSE after
        each epoch, epoch 0 = init), ``seconds`` (cumulative training time at each epoch, evaluation
        excluded) and ``diverged``; ``n``.
    """
    from netoptima.models import mlp

    device = config["device"]
    epochs, batch = check_int("epochs", config["epochs"], low=1), config["batch"]
    settings = [("ggn", config["ggn_lr"])] + [("sgd", lr) for lr in config.get("sgd_lrs", [])] + \
        [("adam", lr) for lr in config.get("adam_lrs", [])]
    curves = []
    with torch_threads(config.get("threads", 1)):
        X, y = regression_data(config["task"])
        X, y = X.to(device), y.to(device)
        n = X.shape[0]
        for name, lr in settings:
            torch.manual_seed(config["seed"])
            model = mlp([X.shape[1], config["width"], config["width"], 1], activation=nn.Tanh).to(device)
            warm = copy.deepcopy(model)  # the untimed step: same shapes and code path, the run's model untouched
            try:
                _minibatch_step(name, warm, _regression_optimizer(name, warm, lr, config), X[:batch], y[:batch])
            except TrainingDiverged:
                pass  # the timed run below meets and records it
            opt = _regression_optimizer(name, model, lr, config)
            gen = torch.Generator().manual_seed(config["seed"])  # same batch order for every optimizer
            loss, seconds, diverged = [_mse(model, X, y)], [0.0], False
            for _ in range(epochs):
                perm = torch.randperm(n, generator=gen).to(device)
                t0 = time.perf_counter()
                try:
                    for i in range(0, n, batch):
                        _minibatch_step(name, model, opt, X[perm[i:i + batch]], y[perm[i:i + batch]])
                except TrainingDiverged:
                    diverged = True
                    break
                seconds.append(seconds[-1] + time.perf_counter() - t0)
                loss.append(_mse(model, X, y))
                if not math.isfinite(loss[-1]):
                    diverged = True
                    break
            curves.append({"name": name, "lr": lr, "loss": loss, "seconds": seconds, "diverged": diverged})
    return {"curves": curves, "n": n}
