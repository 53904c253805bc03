"""Run functions of the explicit part (Williams & Zhao 2023; spec explicit_deq.md part A): ``config -> JSON dict``.

Every function is a ``@run_fn`` top-level function of a JSON config (it carries ``device``, added by the
runner); the trainers get the device and every number as keyword arguments. The counting and the explicit
formulas run where the data is (CPU); the models train on ``config["device"]``.

LM configs: ``vocab``, ``train_tokens``, ``eval_tokens`` (Shakespeare words; ``None`` = all), ``context`` K,
``aggregate`` ("sum" / "cat"), ``smoothing`` (add-s of the explicit solution), ``seed``, ``device``.
MNIST configs: ``source``, ``n_train``, ``n_test``, ``smoothing``, ``seed``, ``device``.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import torch

from netoptima.conventions import torch_threads
from netoptima.explicit.data import LMTask, lm_task, mnist01, shakespeare_lm
from netoptima.explicit.models import SoftmaxClassifier, SoftmaxLM, TwoLayerSoftmax
from netoptima.explicit.optimize import (
    accuracy,
    classifier_loss,
    classifier_preconditioner,
    lbfgs,
    lm_loss,
    lm_preconditioner,
    train,
)
from netoptima.explicit.solutions import (
    classifier_solution,
    explicit_solution,
    fit_alpha,
    line_search,
    row_centered_distance,
)
from netoptima.explicit.stats import cooccurrence, feature_label_counts
from netoptima.sweep import Runner, run_fn

if TYPE_CHECKING:
    from netoptima.explicit.claims import BetterOptima, Curves, MnistNoTraining, NearOptimal, TowardExplicit, WarmStart

Data = dict[str, Any]

SPLITS = ("train", "valid", "test")
# every run is small (U is at most 20,000 x 5,000 at --scale paper, mostly far smaller): one torch thread is the
# fastest on a shared machine (3-4x faster than two at smoke scale); restored after each run
THREADS = 1


# ------------------------------------------------------------------------------------------------- helpers
def _lm(cfg: dict[str, Any]) -> tuple[dict[str, torch.Tensor], LMTask]:
    ids = shakespeare_lm(cfg["vocab"], max_train_tokens=cfg["train_tokens"], max_eval_tokens=cfg["eval_tokens"])
    return ids, lm_task(ids, cfg["vocab"], context=cfg["context"], aggregate=cfg["aggregate"])


def _explicit_lm(train_ids: torch.Tensor, cfg: dict[str, Any], smoothing: float) -> tuple[torch.Tensor, float]:
    """The naive-Bayes explicit U and its wall time, counting included (one streamed pass + the formula)."""
    # large U: sparse counts, then U filled densely with one log per non-zero; small U: dense counts are faster
    sparse = cfg["vocab"] ** 2 * (cfg["context"] if cfg["aggregate"] == "cat" else 1) > 2**22
    t0 = time.perf_counter()
    F = cooccurrence(train_ids, cfg["vocab"], context=cfg["context"], aggregate=cfg["aggregate"], sparse=sparse,
                     dtype=torch.float32)
    U = explicit_solution(F, context=cfg["context"], aggregate=cfg["aggregate"], smoothing=smoothing,
                          dtype=torch.float32)
    return U, time.perf_counter() - t0


def _lm_model(cfg: dict[str, Any], U: torch.Tensor | None = None, seed: int = 0) -> SoftmaxLM:
    m = SoftmaxLM(cfg["vocab"], context=cfg["context"], aggregate=cfg["aggregate"], dtype=torch.float32)
    if U is not None:
        m.load_solution(U)
    else:
        m.reset_parameters(generator=torch.Generator().manual_seed(seed))
    return m.to(cfg["device"])


def _losses(m: SoftmaxLM, task: LMTask) -> dict[str, float]:
    return {s: lm_loss(m, getattr(task, s)) for s in SPLITS if getattr(task, s) is not None}


def _optimum(model: SoftmaxLM, task: LMTask, max_iter: int, device: str) -> dict[str, Any]:
    """Preconditioned full-batch L-BFGS on the training CE from the model's current U (in place)."""
    curve: list[float] = []
    history = 20 if model.U.numel() <= 10**7 else 5  # L-BFGS keeps 2·history copies of U
    res = lbfgs(model, lambda b: lm_loss(model, task.train, backward=b), grad_tol=1e-7, max_iter=max_iter,
                history=history, scale={"U": lm_preconditioner(task.F, task.train.n_positions)},
                on_iter=lambda e, loss: curve.append(loss), device=device)
    tail = curve[-10:]
    return {**res.to_dict(), "curve": curve, "last10_drop": (tail[0] - tail[-1]) if tail else 0.0}


def _mnist(cfg: dict[str, Any]) -> dict[str, torch.Tensor]:
    return mnist01(cfg["n_train"], cfg["n_test"], source=cfg["source"])


# ---------------------------------------------------------------------------------------------- LM runs
@run_fn(version=2)  # 2: fused Adam
def lm_setting(cfg: dict[str, Any]) -> dict[str, Any]:
    """One (K, aggregate) LM setting: the explicit solution, its tempered α* ablation, the same formula with
    ``low_smoothing``, Adam warm-started from it (``epochs``, ``lr``, ``batch``) and the L-BFGS optimum
    (``lbfgs_iter`` iterations from the explicit solution). Losses in nats/token on train / valid / test."""
    with torch_threads(THREADS):
        ids, task = _lm(cfg)
        dev = cfg["device"]
        U, t_explicit = _explicit_lm(ids["train"], cfg, cfg["smoothing"])
        model = _lm_model(cfg, U)
        out: dict[str, Any] = {"uniform": math.log(cfg["vocab"]), "explicit": _losses(model, task),
                               "explicit_seconds": t_explicit, "contexts": int(task.train.contexts.shape[0]),
                               "positions": task.train.n_positions}
        # ablation: tempered α·log F̃ with α from a 1-D line search on the training loss
        probe = _lm_model(cfg, U)

        def loss_of(Ua: torch.Tensor) -> float:
            probe.load_solution(Ua.float())
            return lm_loss(probe, task.train)

        alpha, _ = fit_alpha(task.F, loss_of, smoothing=cfg["smoothing"], bounds=(0.05, 1.5), xatol=1e-2)
        loss_of(alpha * (task.F + cfg["smoothing"]).log())
        out["tempered"] = {"alpha": alpha, **_losses(probe, task)}
        # the same formula with little smoothing: separates the smoothing's share of the train gap (K = 1: all of it)
        probe.load_solution(_explicit_lm(ids["train"], cfg, cfg["low_smoothing"])[0])
        out["explicit_low_smoothing"] = {"smoothing": cfg["low_smoothing"], **_losses(probe, task)}
        # warm-started Adam; keep the checkpoint (after ≥ 1 evaluation interval) with the best valid loss
        best: dict[str, Any] = {"valid": float("inf"), "calls": 0}

        def evaluate() -> dict[str, float]:
            rec = {"train": lm_loss(model, task.train), "valid": lm_loss(model, task.valid)}
            if best["calls"] > 0 and rec["valid"] < best["valid"]:  # call 0 is the explicit solution itself
                best.update(valid=rec["valid"], U=model.U.detach().clone())
            best["calls"] += 1
            return rec

        res = train(model, task.contexts, task.targets, lr=cfg["lr"], epochs=cfg["epochs"], batch_size=cfg["batch"],
                    evals_per_epoch=2, seed=cfg["seed"], evaluate=evaluate, device=dev, quiet=True, fused=True)
        out["warm_curve"] = [{k: r[k] for k in ("epoch", "train", "valid")} for r in res.curve]
        out["warm_final"] = _losses(model, task)
        out["warm_best"] = {"epoch": min(r["epoch"] for r in res.curve[1:] if r["valid"] == best["valid"]),
                            **_losses(_lm_model(cfg, best["U"].cpu()), task)}
        opt_model = _lm_model(cfg, U)
        opt = _optimum(opt_model, task, cfg["lbfgs_iter"], dev)
        out["optimum"] = {**_losses(opt_model, task), **{k: v for k, v in opt.items() if k != "curve"}}
        return out


@run_fn(version=2)  # 2: fused Adam
def lm_curve(cfg: dict[str, Any]) -> dict[str, Any]:
    """Adam from the explicit solution (``start="warm"``) or a random init (``"cold"``) for ``epochs`` at ``lr``
    (batch ``batch``, ``evals`` records per epoch): training / valid loss and the row-centred distance to the
    explicit solution and to a control (the explicit solution of the shuffled training tokens)."""
    with torch_threads(THREADS):
        ids, task = _lm(cfg)
        U, t_explicit = _explicit_lm(ids["train"], cfg, cfg["smoothing"])
        model = _lm_model(cfg, U if cfg["start"] == "warm" else None, seed=cfg["seed"])
        # control target: same unigram counts, context destroyed
        perm = torch.randperm(ids["train"].shape[0], generator=torch.Generator().manual_seed(12345))
        U_ctrl, _ = _explicit_lm(ids["train"][perm], cfg, cfg["smoothing"])

        def evaluate() -> dict[str, float]:
            Ut = model.U.detach().cpu()
            return {"train": lm_loss(model, task.train), "valid": lm_loss(model, task.valid),
                    "distance": row_centered_distance(Ut, U, weights=task.row_weights),
                    "distance_control": row_centered_distance(Ut, U_ctrl, weights=task.row_weights, reference=U)}

        res = train(model, task.contexts, task.targets, lr=cfg["lr"], epochs=cfg["epochs"], batch_size=cfg["batch"],
                    evals_per_epoch=cfg["evals"], seed=cfg["seed"], evaluate=evaluate, device=cfg["device"], quiet=True,
                    fused=True)
        keys = ("epoch", "seconds", "train", "valid", "distance", "distance_control")
        return {"curve": [{k: r[k] for k in keys} for r in res.curve], "explicit_seconds": t_explicit,
                "explicit_train": lm_loss(_lm_model(cfg, U), task.train), "uniform": math.log(cfg["vocab"])}


@run_fn(version=1)
def lm_lbfgs(cfg: dict[str, Any]) -> dict[str, Any]:
    """Preconditioned L-BFGS (``lbfgs_iter`` iterations) on the single-layer LM's training CE from the explicit
    solution (``start="explicit"``) or a random init (``"random"``); the problem is convex in U."""
    with torch_threads(THREADS):
        ids, task = _lm(cfg)
        U, _ = _explicit_lm(ids["train"], cfg, cfg["smoothing"])
        model = _lm_model(cfg, U if cfg["start"] == "explicit" else None, seed=cfg["seed"])
        opt = _optimum(model, task, cfg["lbfgs_iter"], cfg["device"])
        return {"train": opt["loss"], "valid": lm_loss(model, task.valid), "grad_max": opt["grad_max"],
                "converged": opt["converged"], "iterations": opt["iterations"], "curve": opt["curve"],
                "last10_drop": opt["last10_drop"]}


# ------------------------------------------------------------------------------------------- MNIST runs
@run_fn(version=1)
def mnist_explicit(cfg: dict[str, Any]) -> dict[str, Any]:
    """Single-layer MNIST classifier: the explicit solution (two forms), its α*-tempered version, and Adam for
    ``epochs`` at ``lr`` (batch 256) from the explicit solution ("warm") and from a random init ("cold")."""
    with torch_threads(THREADS):
        d = _mnist(cfg)
        x, y, xt, yt = d["x_train"], d["y_train"], d["x_test"], d["y_test"]
        dev = cfg["device"]

        def scores(m: torch.nn.Module) -> dict[str, float]:
            return {"train_acc": accuracy(m, x, y), "test_acc": accuracy(m, xt, yt),
                    "train_ce": classifier_loss(m, x, y), "test_ce": classifier_loss(m, xt, yt)}

        def model(W: torch.Tensor | None = None, b: torch.Tensor | None = None) -> SoftmaxClassifier:
            m = SoftmaxClassifier(x.shape[1], 10, dtype=torch.float32)
            return (m if W is None else m.load_solution(W.float(), b.float())).to(dev)

        t0 = time.perf_counter()
        F, n = feature_label_counts(x, y, 10)
        W, b = classifier_solution(F, n, smoothing=cfg["smoothing"], form="prior")
        out: dict[str, Any] = {"explicit": {**scores(model(W, b)), "seconds": time.perf_counter() - t0}}
        out["explicit_nb_form"] = scores(model(*classifier_solution(F, n, smoothing=cfg["smoothing"],
                                                                    form="naive_bayes")))
        probe = model()

        def ce_at(a: float) -> float:
            probe.load_solution((a * W).float(), (a * b).float())
            return classifier_loss(probe, x, y)

        log_alpha, _ = line_search(lambda t: ce_at(math.exp(t)), bounds=(math.log(1e-3), math.log(2.0)), xatol=0.01)
        ce_at(math.exp(log_alpha))
        out["tempered"] = {"alpha": math.exp(log_alpha), **scores(probe)}
        for start in ("warm", "cold"):
            m = model(W, b) if start == "warm" else model()
            if start == "cold":
                m.reset_parameters(generator=torch.Generator().manual_seed(cfg["seed"]))
            res = train(m, x, y, lr=cfg["lr"], epochs=cfg["epochs"], batch_size=256, seed=cfg["seed"],
                        evaluate=lambda m=m: {"test_acc": accuracy(m, xt, yt)}, device=dev, quiet=True)
            out[f"{start}_adam"] = {**scores(m), "curve": [{"epoch": r["epoch"], "test_acc": r["test_acc"]}
                                                            for r in res.curve]}
        return out


@run_fn(version=1)
def mnist_logistic(cfg: dict[str, Any]) -> dict[str, Any]:
    """Logistic regression's optimum on the same MNIST split: preconditioned L-BFGS (``lbfgs_iter``) from the
    explicit solution."""
    with torch_threads(THREADS):
        d = _mnist(cfg)
        x, y, xt, yt = d["x_train"], d["y_train"], d["x_test"], d["y_test"]
        F, n = feature_label_counts(x, y, 10)
        W, b = classifier_solution(F, n, smoothing=cfg["smoothing"], form="prior")
        m = SoftmaxClassifier(x.shape[1], 10, dtype=torch.float32).load_solution(W.float(), b.float())
        res = lbfgs(m, lambda bb: classifier_loss(m, x, y, backward=bb), grad_tol=1e-6, max_iter=cfg["lbfgs_iter"],
                    scale=classifier_preconditioner(x, 10), device=cfg["device"])
        return {"train_acc": accuracy(m, x, y), "test_acc": accuracy(m, xt, yt), "train_ce": classifier_loss(m, x, y),
                "test_ce": classifier_loss(m, xt, yt), **res.to_dict()}


@run_fn(version=1)
def two_layer(cfg: dict[str, Any]) -> dict[str, Any]:
    """Two softmax layers on MNIST (10 hidden units): layer-local explicit warm start (spec A.5; ``start="warm"``)
    or a random init (``"cold"``), then Adam for ``epochs`` at ``lr`` (batch ``batch``)."""
    with torch_threads(THREADS):
        d = _mnist(cfg)
        x, y, xt, yt = d["x_train"], d["y_train"], d["x_test"], d["y_test"]
        m = TwoLayerSoftmax(x.shape[1], 10, 10, dtype=torch.float32)
        t0 = time.perf_counter()
        if cfg["start"] == "warm":  # layer 1 from (pixel, label) counts, layer 2 from (hidden softmax, label) counts
            F1, n = feature_label_counts(x, y, 10)
            m.layer1.load_solution(*(t.float() for t in classifier_solution(F1, n, smoothing=cfg["smoothing"])))
            with torch.no_grad():
                F2, n = feature_label_counts(m.hidden(x), y, 10)
            m.layer2.load_solution(*(t.float() for t in classifier_solution(F2, n, smoothing=cfg["smoothing"])))
        else:
            m.reset_parameters(generator=torch.Generator().manual_seed(cfg["seed"]))
        t_init = time.perf_counter() - t0
        m.to(cfg["device"])
        at_init = {"train_ce": classifier_loss(m, x, y), "test_acc": accuracy(m, xt, yt)}
        res = train(m, x, y, lr=cfg["lr"], epochs=cfg["epochs"], batch_size=cfg["batch"], seed=cfg["seed"],
                    evaluate=lambda: {"train_ce": classifier_loss(m, x, y)}, device=cfg["device"], quiet=True)
        return {"init": at_init, "init_seconds": t_init, "train_ce": classifier_loss(m, x, y),
                "test_acc": accuracy(m, xt, yt),
                "curve": [{"epoch": r["epoch"], "train_ce": r["train_ce"]} for r in res.curve]}


# ----------------------------------------------------------------- claim-level runs (settings, runner -> data)
LM_KEYS = ("vocab", "train_tokens", "eval_tokens", "smoothing")


def near_run(s: NearOptimal, runner: Runner) -> Data:
    base = {k: getattr(s, k) for k in (*LM_KEYS, "low_smoothing", "epochs", "lr", "batch", "lbfgs_iter")}
    return {"runs": runner.map(lm_setting, [{**base, "context": K, "aggregate": a, "seed": runner.seed}
                                            for K, a in s.setups], desc="explicit LM settings")}


def _curves(s: Curves, runner: Runner, start: str) -> list[Data]:
    base = {k: getattr(s, k) for k in (*LM_KEYS, "context", "aggregate", "epochs", "evals", "lr", "batch")}
    return runner.map(lm_curve, [{**base, "start": start, "seed": runner.seed + k} for k in range(s.seeds)],
                      desc=f"{start} starts")


def toward_run(s: TowardExplicit, runner: Runner) -> Data:
    return {"runs": _curves(s, runner, "cold")}


def warm_run(s: WarmStart, runner: Runner) -> Data:
    opt = {k: getattr(s, k) for k in (*LM_KEYS, "context", "aggregate", "lbfgs_iter")}
    optimum = runner.map(lm_lbfgs, [{**opt, "start": "explicit", "seed": runner.seed}], desc="optimum")
    return {"warm": _curves(s, runner, "warm"), "cold": _curves(s, runner, "cold"),
            "optimum": optimum[0] if optimum else None}


def mnist_run(s: MnistNoTraining, runner: Runner) -> Data:
    base = {"source": s.source, "n_train": s.n_train, "n_test": s.n_test, "smoothing": s.smoothing,
            "seed": runner.seed}
    explicit = runner.map(mnist_explicit, [{**base, "epochs": s.epochs, "lr": s.lr}], desc="mnist explicit")
    optimum = runner.map(mnist_logistic, [{**base, "lbfgs_iter": s.lbfgs_iter}], desc="mnist logistic")
    return {"explicit": explicit[0] if explicit else None, "optimum": optimum[0] if optimum else None}


def better_run(s: BetterOptima, runner: Runner) -> Data:
    lm = {k: getattr(s, k) for k in (*LM_KEYS, "context", "aggregate", "lbfgs_iter")}
    single = runner.map(lm_lbfgs, [{**lm, "start": st, "seed": runner.seed} for st in ("explicit", "random")],
                        desc="single layer L-BFGS")
    base = {"source": s.source, "n_train": s.n_train, "n_test": s.n_test, "lr": s.lr, "batch": s.batch,
            "smoothing": s.mnist_smoothing}
    groups = {"warm": ("warm", s.epochs), "cold": ("cold", s.epochs), "cold_long": ("cold", s.long * s.epochs)}
    two = runner.map(two_layer, [{**base, "start": st, "epochs": e, "seed": runner.seed + k}
                                    for k in range(s.seeds) for st, e in groups.values()], desc="two-layer")
    return {"single": single, "two_layer": {g: [r for r in two if (r["start"], r["epochs"]) == v]
                                            for g, v in groups.items()}}


def near_gaps(runs: list[Data], *, still_moving: float) -> tuple[dict[str, float], dict[str, float], list[str]]:
    """Per (K, aggregation) setting of ``near_run``: (train gaps, held-out gains, settings whose unconverged L-BFGS
    still fell > ``still_moving`` in its last 10 evaluations) (judge helper).

    gap = explicit train CE (better of the two smoothings) − the lowest train CE any optimizer reached; gain =
    explicit test CE − test CE of the iterative model chosen on valid (L-BFGS optimum or best warm Adam).
    """
    gaps, gains, moving = {}, {}, []
    for r in runs:
        key = f"K{r['context']}{r['aggregate']}"
        floor = min(r["optimum"]["train"], r["warm_final"]["train"], r["warm_best"]["train"])
        gaps[key] = round(min(r["explicit"]["train"], r["explicit_low_smoothing"]["train"]) - floor, 4)
        chosen = min((r["warm_best"], r["optimum"]), key=lambda x: x["valid"])
        gains[key] = round(r["explicit"]["test"] - chosen["test"], 4)
        if not r["optimum"]["converged"] and r["optimum"]["last10_drop"] > still_moving:
            moving.append(key)
    return gaps, gains, moving


def seconds_per_epoch(runs: list[Data]) -> list[float]:
    """Each trained run's wall seconds per epoch, from its last curve record (judge helper)."""
    return [r["curve"][-1]["seconds"] / r["curve"][-1]["epoch"] for r in runs if r["curve"][-1]["epoch"] > 0]


def reach(r: Data, T: float, *, rate: float, extra: float) -> tuple[float, float] | None:
    """(epoch, epoch · ``rate`` + ``extra`` seconds) of the first curve record with train CE ≤ ``T``; None if never
    (judge helper: time at a common per-epoch rate, since runs resumed across sessions ran at different loads)."""
    hit = next((c for c in r["curve"] if c["train"] <= T), None)
    return None if hit is None else (hit["epoch"], hit["epoch"] * rate + extra)


def trend_says(s: Any, what: str) -> str | None:
    """``paper_says`` of a setup that differs from the paper's: trend only, with what the paper says (judge helper)."""
    return f"trend only at this setup ({s.deviation}); the paper: {what}" if s.deviation else None
