"""Run functions of the DEQ part (Kawaguchi 2021): one training run each, ``config -> JSON dict``.

Every config carries ``device`` (added by the runner); the models are float64 (the rate checks look at L − L* down
to 1e-8). Tiny matrices run on one torch thread: on a shared machine thread hand-offs cost more than the maths.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from netoptima.conventions import torch_threads
from netoptima.deq.analysis import function_space_preconditioner, shallow_square_grad, trust_region_step
from netoptima.deq.data import pooled_mnist, synthetic
from netoptima.deq.model import DEQLinear
from netoptima.deq.train import lambda_min_UtU, linear_optimum, loss_value, rate_check, train_deq, train_params
from netoptima.sweep import Runner, run_fn

if TYPE_CHECKING:
    from netoptima.deq.claims import Bias, Rate, Trust

F64 = torch.float64


def _subsample(values: list[float], points: int = 300) -> list[int]:
    return np.unique(np.linspace(0, len(values) - 1, min(points, len(values))).astype(int)).tolist()


def _loglinear_fit(gap: np.ndarray, lr: float) -> tuple[float, float]:
    """(R², rate) of the least-squares line through log(L − L*) against time ηt; rate = −slope."""
    if gap.size < 3:
        return math.nan, math.nan
    t, y = np.arange(gap.size, dtype=float) * lr, np.log(gap)
    coef = np.polyfit(t, y, 1)
    fit = np.polyval(coef, t)
    return float(1 - np.sum((y - fit) ** 2) / np.sum((y - y.mean()) ** 2)), float(-coef[0])


@run_fn(version=2)  # 2: the flow check's tolerance includes the gap's cancellation error (rate_check)
def rate_run(config: dict[str, Any]) -> dict[str, Any]:
    """GD on one DEQ linear model to its global optimum, with the rate theorem's quantities (spec B.5, B.8).

    Config keys: ``loss`` (square / cross_entropy), ``d``, ``k``, ``n``, ``width`` (m; a fixed random projection
    φ when m ≠ d), ``gamma``, ``lr``, ``max_steps``, ``seed``, ``floor`` (L − L* below which the rate is not
    checked), ``stop`` (stop once L − L* ≤ stop), ``device``.
    """
    c = config
    loss, width, dev = c["loss"], c["width"], torch.device(c["device"])
    with torch_threads(1):
        X, Y = synthetic(c["seed"], c["d"], c["k"], c["n"], loss, device=dev)
        g = torch.Generator().manual_seed(c["seed"] + 1)
        model = DEQLinear(c["d"], c["k"], width=width, gamma=c["gamma"],
                          feature_map=None if width == c["d"] else "random", generator=g, dtype=F64).to(dev)
        Phi = model.features(X).detach()  # (n, m)
        opt = linear_optimum(Phi, Y, loss=loss, device=dev, dtype=F64)
        traj = train_deq(model, X, Y, loss=loss, lr=c["lr"], steps=c["max_steps"], device=dev, dtype=F64,
                         L_star=opt.value, stop_gap=c["stop"], quiet=True)
        W = model.weight().detach()
        if loss == "cross_entropy":  # softmax is blind to adding one vector to every row: fix W's last row at 0
            W = W - W[-1:]
        W_err = float(torch.linalg.matrix_norm(W - opt.W) / torch.linalg.matrix_norm(opt.W))
    gap, lam_U, sig = np.asarray(traj.gap), np.asarray(traj.lambda_U), np.asarray(traj.sigma_norm)
    m, gamma = model.width, c["gamma"]
    above = gap[gap > c["floor"]]
    r2, fitted = _loglinear_fit(above, c["lr"])
    keep = _subsample(list(gap))
    out: dict[str, Any] = {
        "L_star": opt.value, "L_star_attained": opt.attained, "steps_run": len(gap), "final_gap": float(gap[-1]),
        "min_gap": float(gap.min()), "lambda_K": traj.lambda_K, "lambda_U_min": float(lam_U.min()),
        "lambda_U_max": float(lam_U.max()), "W_rel_error": W_err,
        "max_rise": float(np.max(np.diff(np.asarray(traj.loss)), initial=0.0)),
        # spec B.5 lemma (holds for every A): λ_min(UᵀU) ≥ 1/(1 + γ‖σ(A)‖₂)² ≥ 1/(1 + γ√m)² at every step
        "norm_bound_ok": bool(np.all(lam_U >= (1 - 1e-9) / (1 + gamma * sig) ** 2)),
        "sqrt_m_bound_ok": bool(np.all(lam_U >= (1 - 1e-9) / (1 + gamma * math.sqrt(m)) ** 2)),
        # the theorem's rate from quantities known at initialisation: 2 λ_min(ΦΦᵀ/n) / (1 + γ√m)² (any t)
        "apriori_rate": 2 * traj.lambda_K / (1 + gamma * math.sqrt(m)) ** 2,
        "r2_loglinear": r2, "fitted_rate": fitted, "curve_t": keep, "curve_gap": [float(gap[i]) for i in keep],
    }
    if loss == "square":
        out.update(rate_check(traj, floor=c["floor"]))
        cum = np.concatenate([[0.0], np.cumsum(np.asarray(traj.rate_bound) * c["lr"])])[:-1]
        out["curve_bound"] = [float(gap[0] * math.exp(-cum[i])) for i in keep]  # (L_0 − L*) e^{−η Σ bound}
    return out


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.reshape(-1), b.reshape(-1), dim=0))


@run_fn(version=2)
def trust_region_run(config: dict[str, Any]) -> dict[str, Any]:
    """A DEQ trained by GD on (A, B), and the shallow-model methods its function-space path W_t = B_tU_t is compared
    with (spec B.6): the trust-region iteration with the paper's implied Hessian (H_t + μ_tI = P_t⁻¹, P_t = J_tJ_tᵀ),
    plain GD at every learning rate of a grid, and TR-Newton with the true Hessian at the DEQ's step lengths.

    Config keys: ``d``, ``k``, ``n``, ``gamma``, ``lr``, ``max_steps``, ``seed``, ``cond`` (condition number of the
    inputs' covariance), ``gd_factors`` (GD learning rates as multiples of ``lr``), ``device``.
    """
    c = config
    eta, dev = c["lr"], torch.device(c["device"])
    with torch_threads(1):
        X, Y = synthetic(c["seed"], c["d"], c["k"], c["n"], "square", cond=c["cond"], device=dev)
        model = DEQLinear(c["d"], c["k"], gamma=c["gamma"], generator=torch.Generator().manual_seed(c["seed"] + 1),
                          dtype=F64).to(dev)
        Phi = X  # φ = identity
        K = Phi.T @ Phi / c["n"]  # (m, m) Hessian factor of the shallow square loss
        K_inv = torch.linalg.inv(K)
        opt = linear_optimum(Phi, Y, loss="square", device=dev, dtype=F64)
        W_star = opt.W

        def L_lin(W: torch.Tensor) -> float:
            return float(loss_value(Phi @ W.T, Y, loss="square"))

        Ws, Ps, lam_P, lam_U, a_share, jac_err = [], [], [], [], [], []
        for t in range(c["max_steps"]):
            W = model.weight()
            loss = loss_value(Phi @ W.T, Y, loss="square")
            if float(loss.detach()) - opt.value <= 1e-10:
                break
            P, P_B = function_space_preconditioner(model)  # (km, km)
            if t in (0, c["max_steps"] // 2):  # the analytic P_t against jacrev of an explicit inverse
                Pj, _ = function_space_preconditioner(model, method="jacrev")
                jac_err.append(float(torch.linalg.matrix_norm(P - Pj) / torch.linalg.matrix_norm(Pj)))
            Ws.append(W.detach().clone())
            Ps.append(P)
            lam_P.append(float(torch.linalg.eigvalsh(P)[0]))
            lam_U.append(lambda_min_UtU(model))
            a_share.append(float(1 - P_B.trace() / P.trace()))
            gA, gB = torch.autograd.grad(loss, [model.A, model.B])  # the implicit gradient (spec B.4)
            with torch.no_grad():
                model.A.sub_(eta * gA)
                model.B.sub_(eta * gB)
        Ws.append(model.weight().detach().clone())
        T = len(Ps)
        scale = float(torch.linalg.matrix_norm(Ws[0] - W_star))
        # per step: the DEQ's measured function-space step against GD's direction, Newton's, and TR-Newton's at
        # the DEQ's own step length (the radius)
        cos_gd, cos_newton, cos_tr, cos_tr_gd = [], [], [], []
        for t in range(T):
            V = Ws[t + 1] - Ws[t]
            G = shallow_square_grad(Ws[t], Phi, Y)
            cos_gd.append(_cos(V, -G))
            cos_newton.append(_cos(V, -(G @ K_inv)))
            radius = float(torch.linalg.matrix_norm(V))
            if radius > 0:
                v_tr = trust_region_step(G, K, radius)[0]
                cos_tr.append(_cos(V, v_tr))
                cos_tr_gd.append(_cos(v_tr, -G))
        # replay from W_0: the TR iteration with the implied Hessian (W ← W − ηP_t∇L_lin(W)), and plain GD
        # (and with P_0 frozen: how much the adaptivity of P_t matters)
        Wb, W0 = Ws[0].clone(), Ws[0].clone()
        dev_tr, gap_tr, dev_frozen = [], [], 0.0
        for t in range(T):
            dev_tr.append(float(torch.linalg.matrix_norm(Wb - Ws[t])) / scale)
            dev_frozen = max(dev_frozen, float(torch.linalg.matrix_norm(W0 - Ws[t])) / scale)
            gap_tr.append(L_lin(Wb) - opt.value)
            Wb = Wb - eta * (Ps[t] @ shallow_square_grad(Wb, Phi, Y).reshape(-1)).reshape(Wb.shape)
            W0 = W0 - eta * (Ps[0] @ shallow_square_grad(W0, Phi, Y).reshape(-1)).reshape(W0.shape)
        dev_gd, gap_gd_best = [], []
        for f in c["gd_factors"]:
            Wd, dev_f, gap_f = Ws[0].clone(), 0.0, []
            for t in range(T):
                d_t = float(torch.linalg.matrix_norm(Wd - Ws[t])) / scale
                if not math.isfinite(d_t) or d_t > 1e6:  # this learning rate diverges: it tracks nothing
                    dev_f, gap_f = 1e6, gap_f + [math.inf] * (T - t)
                    break
                dev_f = max(dev_f, d_t)
                gap_f.append(L_lin(Wd) - opt.value)
                Wd = Wd - f * eta * shallow_square_grad(Wd, Phi, Y)
            dev_gd.append(dev_f)
            if dev_f <= min(dev_gd):
                gap_gd_best = gap_f
        gap_deq = [L_lin(W) - opt.value for W in Ws[:T]]
        snaps = sorted({0, T // 10, T // 3, T - 1})
        snap_spectra = [torch.linalg.eigvalsh(Ps[t]).tolist() for t in snaps]
    lam_P_arr, lam_U_arr = np.asarray(lam_P), np.asarray(lam_U)
    keep = _subsample(gap_deq)
    best = int(np.argmin(dev_gd))
    return {
        "steps_run": T, "final_gap": gap_deq[-1] if gap_deq else math.nan,
        "max_dev_tr": float(max(dev_tr)), "max_dev_frozen_P0": dev_frozen, "dev_gd": dev_gd,
        "best_gd_factor": c["gd_factors"][best], "max_dev_gd_best": float(dev_gd[best]),
        "mean_cos_gd": float(np.mean(cos_gd)), "mean_cos_newton": float(np.mean(cos_newton)),
        "mean_cos_tr_radius": float(np.mean(cos_tr)), "mean_cos_tr_radius_vs_gd": float(np.mean(cos_tr_gd)),
        # sanity checks (identities of the construction)
        "min_lambda_P_over_U": float((lam_P_arr / lam_U_arr).min()), "max_jacrev_error": float(max(jac_err)),
        "mean_A_share": float(np.mean(a_share)), "cond_K": float(torch.linalg.cond(K)),
        "implied_H_max": float(1 / lam_P_arr.min()),  # λ_max(H_t + μ_t I) = 1/λ_min(P_t) ≤ 1/λ_min(UᵀU)
        "snap_t": snaps, "snap_spectra": snap_spectra, "snap_lambda_U": [lam_U[t] for t in snaps],
        "curve_t": keep, "gap_deq": [gap_deq[i] for i in keep], "gap_tr": [gap_tr[i] for i in keep],
        "gap_gd_best": [gap_gd_best[i] for i in keep],
    }


@run_fn(version=1)
def implicit_bias_run(config: dict[str, Any]) -> dict[str, Any]:
    """One of DEQ linear / linear / deep linear trained on MNIST by full-batch GD, same η and steps (spec B.7).

    Config keys: ``model`` (deq / linear / dln), ``source``, ``n_train`` (None: all), ``pool``, ``steps``, ``lr``,
    ``gamma``, ``depth`` (of the DLN), ``seed``, ``device``.
    """
    c = config
    dev = torch.device(c["device"])
    with torch_threads(1 if c["pool"] > 1 else None):
        Xtr, ytr = pooled_mnist(c["source"], "train", c["n_train"], c["pool"], device=dev)
        Xte, yte = pooled_mnist(c["source"], "test", None, c["pool"], device=dev)
        d, k = Xtr.shape[1], 10
        g = torch.Generator().manual_seed(c["seed"])
        if c["model"] == "deq":
            net = DEQLinear(d, k, gamma=c["gamma"], generator=g, dtype=F64).to(dev)
            params, W_of = [net.A, net.B], net.weight
        elif c["model"] == "linear":
            W0 = torch.zeros(k, d, dtype=F64, device=dev, requires_grad=True)
            params, W_of = [W0], lambda: W0
        else:  # deep linear network W_H ⋯ W_1 with hidden width d, N(0, 1/fan_in) init
            dims = [d] * c["depth"] + [k]
            params = [(torch.randn(dims[i + 1], dims[i], generator=g, dtype=F64) / math.sqrt(dims[i]))
                      .to(dev).requires_grad_() for i in range(c["depth"])]

            def W_of() -> torch.Tensor:
                W = params[-1]
                for P in reversed(params[:-1]):
                    W = W @ P  # (k, ·) @ (·, ·): cheap because k = 10 rows
                return W

        def loss_fn() -> torch.Tensor:
            return loss_value(Xtr @ W_of().T, ytr, loss="cross_entropy")

        losses = np.asarray(train_params(params, loss_fn, steps=c["steps"], lr=c["lr"], device=dev, dtype=F64,
                                         quiet=True).losses)
        every = max(1, c["steps"] // 100)
        rises = np.diff(losses) / losses[:-1]
        with torch.no_grad():
            W = W_of().detach()
            correct = (Xte @ W.T).argmax(1) == yte
            return {"train_curve": losses[::every].tolist(), "curve_every": every,
                    "final_train_loss": float(loss_value(Xtr @ W.T, ytr, loss="cross_entropy")),
                    "max_rise": float(rises.max()) if rises.size else 0.0,  # > 0: the loss went up at some step
                    "train_acc": float(((Xtr @ W.T).argmax(1) == ytr).double().mean()),
                    "test_acc": float(correct.double().mean()), "test_correct": correct.to(torch.int8).tolist(),
                    "n_train": int(Xtr.shape[0]), "n_test": int(Xte.shape[0]), "width": d}


# ----------------------------------------------------------------- claim-level runs (settings, runner -> data)
def rate_data(s: Rate, runner: Runner) -> dict[str, Any]:
    """The square-loss runs (every width of a :class:`Width`, else m = d) and the cross-entropy run."""
    base = {"d": s.d, "k": s.k, "n": s.n, "gamma": s.gamma, "lr": s.lr, "max_steps": s.max_steps,
            "floor": s.gap_floor, "stop": 1e-10}
    cfgs = [{**base, "loss": "square", "width": w, "seed": runner.seed + i}
            for w in getattr(s, "widths", (s.d,)) for i in range(s.seeds)]
    cfgs.append({"d": s.ce_d, "k": s.ce_k, "n": s.ce_n, "gamma": s.gamma, "lr": s.ce_lr, "max_steps": s.ce_max_steps,
                 "floor": s.gap_floor, "stop": s.ce_target / 100, "loss": "cross_entropy",
                 "width": getattr(s, "ce_width", s.ce_d), "seed": runner.seed})
    return {"runs": runner.map(rate_run, cfgs, desc="deq rate")}


def trust_data(s: Trust, runner: Runner) -> dict[str, Any]:
    cfg = {"d": s.d, "k": s.k, "n": s.n, "gamma": s.gamma, "lr": s.lr, "max_steps": s.max_steps,
           "seed": runner.seed + s.seed, "cond": s.cond, "gd_factors": list(s.gd_factors)}
    runs = runner.map(trust_region_run, [cfg], desc="deq trust region")
    return {"run": runs[0] if runs else None}


def bias_data(s: Bias, runner: Runner) -> dict[str, Any]:
    base = {"source": s.source, "n_train": s.n_train, "pool": s.pool, "steps": s.steps, "lr": s.lr,
            "gamma": s.gamma, "depth": s.depth, "seed": runner.seed}
    runs = runner.map(implicit_bias_run, [{**base, "model": m} for m in ("deq", "linear", "dln")], desc="deq bias")
    return {"runs": {r["model"]: r for r in runs}}
