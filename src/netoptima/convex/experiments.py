"""Run functions of the convex part: ``config -> JSON dict``, one unit of work each (``@run_fn``).

Instances are the official demo's planted-neuron regression (spec §3.4) or the spec's certificate check (§3.6),
described by flat config keys ``n, d, neurons, noise, power, activation, beta`` and a ``seed``. NumPy, SciPy and
the CVXPY solvers run under :func:`_blas_threads`, the part's one BLAS thread limit; torch trainers get
``config["device"]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from netoptima.conventions import TrainingDiverged
from netoptima.convex import paper
from netoptima.convex.backprop import fit_backprop
from netoptima.convex.certificate import certificate
from netoptima.convex.data import mnist_unit, planted_demo
from netoptima.convex.decomposition import neural_decomposition
from netoptima.convex.model import RELU_FIT_ACTIVATION, QuadraticActivationNet, features_np, net_arrays, objective
from netoptima.convex.sdp import SolverFailed, fit_sdp, lifted_predictions
from netoptima.convex.solver import _blas_limit, fit_global
from netoptima.convex.verify import independent_certificate
from netoptima.sweep import Runner, run_fn

if TYPE_CHECKING:  # the settings live in claims.py, which imports this module
    from netoptima.convex.claims import BackpropGap, CertificateSettings, MnistGlobal, SdpExact

DECODE_TOL = 1e-10  # neural decomposition keeps eigenvalues above 1e-10·λmax


@contextmanager
def _blas_threads(n: int | None = None) -> Iterator[None]:
    """Limit NumPy/SciPy BLAS threads to ``n`` (default: torch's count, which the sweep sets per worker).

    Without this every worker process runs OpenBLAS on all cores: oversubscribed, busy-waiting threads made
    the MNIST units 5-10x slower on 2 shared cores.
    """
    with _blas_limit(n or torch.get_num_threads()):
        yield


def _instance(config: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    X, y, _, _ = planted_demo(config["n"], config["d"], neurons=config["neurons"], noise=config["noise"],
                              power=config["power"], activation=config["activation"], seed=seed)
    return X, y


def _solve_and_decode(config: dict[str, Any], X: np.ndarray, y: np.ndarray, solver: str, tol: float) -> tuple[
        Any, QuadraticActivationNet]:
    res = fit_sdp(X, y, activation=config["activation"], beta=config["beta"], solver=solver, tol=tol)
    return res, neural_decomposition(res.Z, res.Z_prime, DECODE_TOL, activation=config["activation"])


def _reference_value(config: dict[str, Any], X: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None]:
    """The SDP optimum by an independent interior-point solve (Clarabel), at the first tolerance it reaches."""
    for tol in config["ref_tols"]:
        try:
            res = fit_sdp(X, y, activation=config["activation"], beta=config["beta"], solver="CLARABEL", tol=tol)
        except SolverFailed:
            continue
        return res.value, tol
    return None, None


@run_fn(version=1)
def sdp_exact_run(config: dict[str, Any]) -> dict[str, Any]:
    """SCS solves the lift (spec §3.1), neural decomposition decodes a network (§3.2); Clarabel solves the same
    SDP independently. Config: instance keys, ``seed``, ``tol`` (SCS eps), ``ref_tols`` (Clarabel, tried in
    order), ``device`` (unused: CVXPY)."""
    with _blas_threads():
        X, y = _instance(config, config["seed"])
        act, beta = config["activation"], config["beta"]
        res, net = _solve_and_decode(config, X, y, "SCS", config["tol"])
        ref, ref_tol = _reference_value(config, X, y)
    U, alpha = net_arrays(net)
    pred_net = features_np(X, U, tuple(act)) @ alpha
    pred_sdp = lifted_predictions(res.Z, res.Z_prime, X, act)
    return {"sdp_value": res.value, "reference_value": ref, "reference_tol": ref_tol,
            "net_objective": objective(net, X, y, beta=beta), "width": net.width, "width_bound": 2 * (config["d"] + 1),
            "effective_width": int((np.abs(alpha) > 1e-6 * np.abs(alpha).max(initial=0.0)).sum()),
            "pred_max_diff": float(np.abs(pred_net - pred_sdp).max()), "y_scale": float(np.abs(y).max()),
            "solve_time": res.solve_time, "iterations": res.iterations,
            "eig_Z": np.linalg.eigvalsh(res.Z)[::-1].tolist(), "eig_Zp": np.linalg.eigvalsh(res.Z_prime)[::-1].tolist()}


def _sampled_max(X: np.ndarray, v: np.ndarray, act: tuple[float, float, float], samples: int, seed: int) -> float:
    """max |vᵀσ(Xu)| over ``samples`` random unit vectors u (an independent lower estimate of the TRS maximum)."""
    rng = np.random.default_rng(seed)
    best = 0.0
    for _ in range(max(1, samples // 10_000)):
        Us = rng.standard_normal((10_000, X.shape[1]))
        Us /= np.linalg.norm(Us, axis=1, keepdims=True)
        best = max(best, float(np.abs(features_np(X, Us, act).T @ v).max()))
    return best


@run_fn(version=1)
def certificate_run(config: dict[str, Any]) -> dict[str, Any]:
    """The TRS certificate (spec §3.6) of the network decoded from the SDP, a random-sphere check of its maximum,
    and weak duality on 3 random networks. Config: instance keys, ``seed``, ``solver``, ``tol``, ``samples``."""
    act, beta = tuple(config["activation"]), config["beta"]
    with _blas_threads():
        X, y = _instance(config, config["seed"])
        res, net = _solve_and_decode(config, X, y, config["solver"], config["tol"])
        cert = certificate(net, X, y, beta=beta)
        U, alpha = net_arrays(net)
        v = features_np(X, U, act) @ alpha - y  # (n,) the residual
        sampled = _sampled_max(X, v, act, config["samples"], config["seed"])
        sandwich = []
        for k in range(3):
            rnd = QuadraticActivationNet(X.shape[1], 5, activation=act, generator=torch.Generator().manual_seed(k),
                                         init_scale=0.5)
            c = certificate(rnd, X, y, beta=beta)
            sandwich.append([c.lower_bound, c.objective])
    return {"sdp_value": res.value, "objective": cert.objective, "lower_bound": cert.lower_bound, "gap": cert.gap,
            "gap_rel": cert.relative_gap, "dual_max": cert.dual_max, "dual_max_over_beta": cert.dual_max / beta,
            "hard_case": cert.hard_case, "sampled_max": sampled, "sandwich": sandwich, "width": net.width}


@run_fn(version=1)
def sdp_optimum(config: dict[str, Any]) -> dict[str, Any]:
    """The global optimum p* of an instance by the SDP (CVXPY+SCS), with the TRS certificate of its decoded
    network (which checks p* independently of the solver). Config: instance keys, ``seed``, ``tol``."""
    with _blas_threads():
        X, y = _instance(config, config["seed"])
        res, net = _solve_and_decode(config, X, y, "SCS", config["tol"])
        cert = certificate(net, X, y, beta=config["beta"])
    return {"sdp_value": res.value, "net_objective": cert.objective, "lower_bound": cert.lower_bound,
            "cert_gap": cert.relative_gap, "solve_time": res.solve_time}


@run_fn(version=1)
def backprop_run(config: dict[str, Any]) -> dict[str, Any]:
    """One SGD/Adam run (width 2(d+1), full batch) from a random initialisation, ending with its certificate.
    Config: instance keys, ``data_seed``, ``optimizer``, ``lr``, ``steps``, ``seed``, ``device``."""
    X, y = _instance(config, config["data_seed"])
    try:
        res = fit_backprop(X, y, activation=config["activation"], beta=config["beta"], width=2 * (config["d"] + 1),
                           optimizer=config["optimizer"], lr=config["lr"], steps=config["steps"], seed=config["seed"],
                           record_every=max(1, config["steps"] // 40), device=config["device"])
    except TrainingDiverged as exc:
        return {"diverged": True, "error": str(exc)}
    with _blas_threads(1):
        cert = certificate(res.net.cpu(), X, y, beta=config["beta"])
    return {"diverged": False, "objective": cert.objective, "lower_bound": cert.lower_bound,
            "cert_gap": cert.relative_gap, "dual_max_over_beta": cert.dual_max / config["beta"],
            "curve": list(res.objectives)}


def _scores(net: QuadraticActivationNet, X: np.ndarray) -> list[float]:
    U, alpha = net_arrays(net)
    return [round(float(s), 6) for s in features_np(X, U, RELU_FIT_ACTIVATION) @ alpha]


@run_fn(version=1)
def mnist_global_run(config: dict[str, Any]) -> dict[str, Any]:
    """fit_global on one MNIST class, one-vs-all (spec §3.6), and the independent re-certification of the network
    it returns (:mod:`.verify`). Config: ``n``, ``test``, ``digit``, ``beta``, ``tol``, ``max_iter``."""
    with _blas_threads():
        X, lab, Xt, _ = mnist_unit(config["n"], config["test"])
        y = np.where(lab == config["digit"], 1.0, -1.0)
        res = fit_global(X, y, activation=RELU_FIT_ACTIVATION, beta=config["beta"], tol=config["tol"],
                         max_iter=config["max_iter"])
        U, alpha = net_arrays(res.net)
        indep = independent_certificate(U, alpha, X, y, beta=config["beta"], activation=RELU_FIT_ACTIVATION)
    return {"solver_gap": res.certificate.relative_gap, "converged": res.converged, "objective": indep.objective,
            "lower_bound": indep.lower_bound, "rel_gap": indep.relative_gap,
            "dual_max_over_beta": indep.dual_max_over_beta, "width": res.net.width,
            "history": [{k: h[k] for k in ("iteration", "relative_gap", "width")} for h in res.history],
            "test_scores": _scores(res.net, Xt)}


@run_fn(version=1)
def mnist_adam_run(config: dict[str, Any]) -> dict[str, Any]:
    """Adam on the same objective and class (the backprop baseline), certified like fit_global's network.
    Config: ``n``, ``test``, ``digit``, ``beta``, ``width``, ``steps``, ``lr``, ``seed``, ``device``."""
    X, lab, Xt, _ = mnist_unit(config["n"], config["test"])
    y = np.where(lab == config["digit"], 1.0, -1.0)
    try:
        bp = fit_backprop(X, y, activation=RELU_FIT_ACTIVATION, beta=config["beta"], width=config["width"],
                          optimizer="adam", lr=config["lr"], steps=config["steps"], seed=config["seed"],
                          device=config["device"], record_every=config["steps"])
    except TrainingDiverged as exc:
        return {"diverged": True, "error": str(exc)}
    net = bp.net.cpu()
    with _blas_threads():
        U, alpha = net_arrays(net)
        indep = independent_certificate(U, alpha, X, y, beta=config["beta"], activation=RELU_FIT_ACTIVATION)
    return {"diverged": False, "objective": indep.objective, "lower_bound": indep.lower_bound,
            "rel_gap": indep.relative_gap, "width": net.width, "test_scores": _scores(net, Xt)}


# ------------------------------------------------------------------------------ claim-level run functions (data only)


def sdp_exact(s: SdpExact, runner: Runner) -> dict[str, Any]:
    """convex.sdp_exact: one SCS solve (with its independent Clarabel reference) per seed."""
    configs = [{**s.instance(), "seed": runner.seed + k, "tol": s.tol, "ref_tols": list(s.ref_tols)}
               for k in range(s.seeds)]
    return {"runs": runner.map(sdp_exact_run, configs, desc="convex sdp", in_process=True)}


def certificate_claim(s: CertificateSettings, runner: Runner) -> dict[str, Any]:
    """convex.certificate: the certificate at the SDP's decoded network per seed (and on the notebook demo)."""
    configs = [{**s.instance(), "seed": runner.seed + k, "solver": "SCS", "tol": s.solver_tol,
                "samples": s.samples} for k in range(s.seeds)]
    runs = runner.map(certificate_run, configs, desc="convex certificate", in_process=True)
    demo = (runner.map(certificate_run, [{**paper.DEMO, "activation": list(paper.DEMO["activation"]),
                                          "seed": runner.seed, "solver": "CLARABEL", "tol": s.demo_tol,
                                          "samples": 10_000}], desc="convex demo cert", in_process=True)
            if s.demo else [])
    return {"runs": runs, "demo": demo[0] if demo else None}


def backprop_gap(s: BackpropGap, runner: Runner) -> dict[str, Any]:
    """convex.backprop_gap: the SDP optimum p* and SGD/Adam runs per learning rate and init."""
    inst = s.instance()
    opt = runner.map(sdp_optimum, [{**inst, "seed": runner.seed, "tol": s.sdp_tol}], desc="convex p*",
                     in_process=True)
    configs = [{**inst, "data_seed": runner.seed, "optimizer": o, "lr": lr, "steps": s.steps,
                "seed": runner.seed + 1000 + k}
               for o, lrs in (("adam", s.adam_lrs), ("sgd", s.sgd_lrs)) for lr in lrs for k in range(s.seeds)]
    runs = runner.map(backprop_run, configs, desc="convex backprop")
    return {"optimum": opt[0] if opt else None, "device": runner.device,
            "runs": [{k: r[k] for k in ("optimizer", "lr", "seed", "steps", "diverged", "objective", "lower_bound",
                                        "cert_gap", "curve") if k in r} for r in runs]}


def mnist_global(s: MnistGlobal, runner: Runner) -> dict[str, Any]:
    """convex.mnist_global: fit_global and the Adam baseline per one-vs-all class, and the test labels."""
    base = {"n": s.n, "test": s.test, "beta": s.beta}
    glob = runner.map(mnist_global_run, [{**base, "digit": k, "tol": s.solver_tol, "max_iter": s.max_iter}
                                         for k in s.classes], desc="convex mnist global")
    adam = runner.map(mnist_adam_run, [{**base, "digit": k, "width": s.adam_width, "steps": s.adam_steps,
                                        "lr": s.adam_lr, "seed": runner.seed} for k in s.classes],
                      desc="convex mnist adam")
    labels = mnist_unit(s.n, s.test)[3]
    return {"global": glob, "adam": [r for r in adam if not r["diverged"]], "test_labels": labels.tolist()}
