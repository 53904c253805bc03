"""The runs behind the dynamics claims: top-level functions of a JSON-able config (so they pickle to workers).

* :func:`theory_run` - the Du et al. net (NTK parametrisation, unit-norm inputs) trained with GD / HB / NAG,
  with its measured errors against the limiting ODE and the linearised recursion (both with H∞);
* :func:`notebook_run` - one run of the official notebook (``TwoLayerMLP`` on MNIST, ``nn.MSELoss``);
* :func:`ggn_residual_run` - full-batch Gram-Gauss-Newton on a wide smooth net, the residual sequence;
* :func:`regression_run` - GGN against SGD / Adam on a real regression task, loss and wall time per epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from netoptima.conventions import TrainingDiverged, check_choice, check_int
from netoptima.dynamics.ode import linearized_error, loss_of_error, predicted_error
from netoptima.dynamics.optim import GD, HeavyBall, Nesterov

__all__ = [
    "BATCHABLE", "REGRESSION_TASKS", "batch_run", "ggn_residual_run", "notebook_run", "regression_data",
    "regression_run", "relative_gap",
    "smooth_wide_net", "theory_data", "theory_run",
]

REGRESSION_TASKS = ("diabetes", "digits")


@contextmanager
def intra_op_threads(n: int | None) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads (restored afterwards); ``None`` leaves the setting alone.

    The runs here are small (matrices of a few hundred rows): one thread is as fast as two on an idle
    machine, and on a shared, oversubscribed one two threads spin-wait on each other and run 10-50× slower.
    """
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def theory_data(n: int) -> tuple[Tensor, Tensor]:
    """Unit-norm inputs and targets for the theory model: the first n sklearn 8×8 digits (float64).

    Returns:
        ``(X, y)``: (n, 64) rows x_i/‖x_i‖ and (n,) targets (label − 4.5)/4.5 ∈ [−1, 1].
    """
    from netoptima.data import digits
    from netoptima.ntk import unit_normalize

    n = check_int("n", n, low=2, high=1797)
    X, labels = digits()
    return unit_normalize(X[:n].to(torch.float64)), (labels[:n].to(torch.float64) - 4.5) / 4.5


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


def theory_run(config: dict[str, Any]) -> dict[str, Any]:
    """Train ``TwoLayerReLUNTK`` (float64, ½‖u − y‖²) and compare with the ODE and linearised predictions.

    Config keys: ``n``, ``width``, ``seed``, ``method`` (gd / hb / nag), ``lr``, ``steps``, ``momentum`` (hb)
    or ``r`` (nag), optional ``device``.

    Config key ``threads`` (default 1): torch intra-op threads for the run (see :func:`intra_op_threads`).

    Returns:
        ``loss`` (steps + 1), ``ode_loss`` and ``lin_loss`` (the H∞ predictions for the measured e0),
        ``gap_ode`` / ``gap_lin`` (:func:`relative_gap` to each), ``floor`` (recursion vs ODE: the
        discretisation part of ``gap_ode``), ``e0`` (the measured initial error), ``lambda_min_0`` (λ_min of H(0)),
        ``lambda_min_inf``, ``lambda_max_inf``.
    """
    with intra_op_threads(config.get("threads", 1)):
        return _theory_run(config)


def _theory_run(config: dict[str, Any]) -> dict[str, Any]:
    from netoptima.dynamics.train import train_full_batch
    from netoptima.models import TwoLayerReLUNTK
    from netoptima.ntk import ntk_gram, relu_ntk_infinite

    check_choice("method", config["method"], ("gd", "hb", "nag"))
    device = config.get("device", "cpu")
    X, y = theory_data(config["n"])
    X, y = X.to(device), y.to(device)
    gen = torch.Generator().manual_seed(config["seed"])
    model = TwoLayerReLUNTK(X.shape[1], config["width"], generator=gen, dtype=torch.float64).to(device)
    H0 = ntk_gram(model, X).cpu().numpy()  # (n, n) empirical Gram at initialisation
    Hinf = relu_ntk_infinite(X).cpu().numpy()  # (n, n)
    opt = _theory_optimizer(config, model.parameters())
    out = train_full_batch(model, X, y, opt, steps=config["steps"], record_errors=True,
                           desc=f"{config['method']} m={config['width']}")
    e = out["errors"]  # (K + 1, n)
    hyper = {"momentum": config.get("momentum"), "r": config.get("r")}
    ks = np.arange(config["steps"] + 1)
    e_ode = predicted_error(config["method"], Hinf, e[0], ks, config["lr"], **hyper)  # (K + 1, n)
    e_lin = linearized_error(config["method"], Hinf, e[0], config["steps"], config["lr"], **hyper)
    lam_inf = np.linalg.eigvalsh(Hinf)
    return {"loss": out["loss"].tolist(), "ode_loss": loss_of_error(e_ode).tolist(),
            "lin_loss": loss_of_error(e_lin).tolist(), "gap_ode": relative_gap(e, e_ode),
            "gap_lin": relative_gap(e, e_lin), "floor": relative_gap(e_lin, e_ode), "e0": e[0].tolist(),
            "lambda_min_0": float(np.linalg.eigvalsh(H0)[0]),
            "lambda_min_inf": float(lam_inf[0]), "lambda_max_inf": float(lam_inf[-1])}


def notebook_run(config: dict[str, Any]) -> dict[str, Any]:
    """One official-notebook run (see ``notebook.notebook_loss_curve``); a divergence is a result, not a crash.

    Config keys: ``n``, ``width``, ``optimizer``, ``lr``, ``epochs``, ``seed``, optional ``momentum``, ``r``,
    ``beta2``, ``rowspace``.

    Config key ``threads`` (default 1): torch intra-op threads for the run (see :func:`intra_op_threads`).

    Returns:
        ``loss``: the per-epoch loss record (epochs 1 … E), or ``diverged`` with the epoch.
    """
    with intra_op_threads(config.get("threads", 1)):
        return _notebook_run(config)


def _notebook_run(config: dict[str, Any]) -> dict[str, Any]:
    from netoptima.dynamics.notebook import notebook_loss_curve

    keys = ("momentum", "r", "beta2", "rowspace")
    try:
        loss = notebook_loss_curve(n=config["n"], width=config["width"], optimizer=config["optimizer"],
                                   lr=config["lr"], epochs=config["epochs"], seed=config["seed"],
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


def ggn_residual_run(config: dict[str, Any]) -> dict[str, Any]:
    """Full-batch GGN (lr 1, damping → 0) on :func:`smooth_wide_net`: the residual norms ‖e_t‖.

    Config keys: ``n``, ``width``, ``seed``, ``steps``, ``damping``.

    Config key ``threads`` (default 1): torch intra-op threads for the run (see :func:`intra_op_threads`).

    Returns:
        ``residuals`` [‖e_0‖, …, ‖e_T‖] and ``lambda_min_0`` (λ_min of the Gram at initialisation).
    """
    with intra_op_threads(config.get("threads", 1)):
        return _ggn_residual_run(config)


def _ggn_residual_run(config: dict[str, Any]) -> dict[str, Any]:
    from netoptima.dynamics.ggn import GramGaussNewton
    from netoptima.ntk import ntk_gram

    X, y = theory_data(config["n"])
    model = smooth_wide_net(X.shape[1], config["width"], seed=config["seed"])
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


def regression_data(task: str, *, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """Standardised regression data: sklearn's diabetes (442 × 10) or the 8×8 digits with the label as target.

    Features and targets are standardised to zero mean and unit variance (so the loss of the mean
    predictor is 1).
    """
    check_choice("task", task, REGRESSION_TASKS)
    if task == "diabetes":
        from sklearn.datasets import load_diabetes  # bundled with scikit-learn, no download

        raw = load_diabetes()
        X, y = torch.tensor(raw.data), torch.tensor(raw.target)
    else:
        from netoptima.data import digits

        X, y = digits()
    X, y = X.to(torch.float64), y.to(torch.float64)
    X = (X - X.mean(0)) / X.std(0).clamp_min(1e-8)  # constant pixels stay 0
    y = (y - y.mean()) / y.std()
    return X.to(dtype), y.to(dtype)


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


def regression_run(config: dict[str, Any]) -> dict[str, Any]:
    """Train the same MLP with GGN and with SGD / Adam at several learning rates, in one process.

    All optimizers run back to back in this process, so their wall times see the same machine load.

    Config keys: ``task``, ``seed``, ``epochs``, ``batch``, ``width``, ``ggn`` ({"lr", "damping"}),
    ``sgd_lrs`` (SGD with momentum 0.9), ``adam_lrs``.

    Config key ``threads`` (default 1): torch intra-op threads for the run (see :func:`intra_op_threads`).

    Returns:
        ``curves``: one entry per optimizer setting with ``name``, ``lr``, ``loss`` (full training MSE after
        each epoch, epoch 0 = init), ``seconds`` (cumulative training time at each epoch, evaluation
        excluded) and ``diverged``.
    """
    with intra_op_threads(config.get("threads", 1)):
        return _regression_run(config)


def _regression_run(config: dict[str, Any]) -> dict[str, Any]:
    from netoptima.dynamics.ggn import GramGaussNewton
    from netoptima.models import mlp

    X, y = regression_data(config["task"])
    n, epochs, batch = X.shape[0], check_int("epochs", config["epochs"], low=1), config["batch"]

    def fresh() -> nn.Module:
        torch.manual_seed(config["seed"])
        return mlp([X.shape[1], config["width"], config["width"], 1], activation=nn.Tanh)

    settings = [("ggn", config["ggn"]["lr"])] + [("sgd", lr) for lr in config.get("sgd_lrs", [])] + \
        [("adam", lr) for lr in config.get("adam_lrs", [])]
    curves = []
    for name, lr in settings:
        model = fresh()
        if name == "ggn":
            opt: Any = GramGaussNewton(model.parameters(), lr=lr, damping=config["ggn"]["damping"], model=model)
        elif name == "sgd":
            opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        else:
            opt = torch.optim.Adam(model.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(config["seed"])  # same batch order for every optimizer
        loss, seconds, diverged = [_mse(model, X, y)], [0.0], False
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen)
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


def batch_run(config: dict[str, Any]) -> dict[str, Any]:
    """Run several configs of one run function back to back, in one process (one sweep record).

    Small sweeps are dominated by a worker's start-up (importing torch, loading MNIST); as one record they
    run in the calling process, which keeps its data caches from one claim to the next.

    Config keys: ``fn`` (a name in :data:`BATCHABLE`), ``configs`` (the list of configs).

    Returns:
        ``results``: one ``{"ok": True, **result}`` or ``{"ok": False, "error": ...}`` per config.
    """
    fn = BATCHABLE[config["fn"]]
    results = []
    for c in config["configs"]:
        try:
            results.append({"ok": True, **fn(dict(c))})
        except Exception as exc:  # one failed run must not hide the others
            results.append({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    return {"results": results}


BATCHABLE = {"theory_run": theory_run, "notebook_run": notebook_run, "ggn_residual_run": ggn_residual_run,
             "regression_run": regression_run}
