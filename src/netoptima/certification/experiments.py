"""Run functions of the ``certify.*`` claims: a network trained by an ordinary optimizer, its certificate, and an
independently computed global optimum (the SDP, a CVXPY solve, numpy's least squares) — never the certifier's own
numbers twice. Synthetic data only (no download)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from netoptima.certification import certify
from netoptima.conventions import seed_everything, torch_threads
from netoptima.sweep import run_fn

DT = torch.float64


def _cert(c: Any) -> dict[str, Any]:
    return {"objective": c.objective, "lower_bound": c.lower_bound, "gap": c.gap, "certified": c.certified,
            "method": c.method}


# ---------------------------------------------------------------------------------------------- quadratic
def _quadratic_data(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    from netoptima.convex import planted_demo

    X, y, _, _ = planted_demo(n=config["n"], d=config["d"], neurons=config["neurons"], noise=0.1,
                              seed=config["data_seed"], unit_neurons=True)
    return X, y


@run_fn(version=1)
def quadratic_sdp(config: dict[str, Any]) -> dict[str, Any]:
    """p* of the planted problem by the lifted SDP (CVXPY + Clarabel or SCS), and the certificate of the network
    decoded from the SDP solution (a global optimum found without the certifier)."""
    from netoptima.convex import PAPER_ACTIVATION, fit_sdp, neural_decomposition

    X, y = _quadratic_data(config)
    sdp = fit_sdp(X, y, activation=PAPER_ACTIVATION, beta=config["beta"], solver=config["solver"],
                  tol=config["sdp_tol"])
    net = neural_decomposition(sdp.Z, sdp.Z_prime, activation=PAPER_ACTIVATION)
    c = certify(net, X, y, beta=config["beta"], tol=config["tol"])
    return {"p_star": sdp.value, "decoded": _cert(c)}


@run_fn(version=1)
def quadratic_trained(config: dict[str, Any]) -> dict[str, Any]:
    """The certificate of a QuadraticActivationNet trained by Adam (``fit_backprop``) for ``steps`` steps."""
    from netoptima.convex import fit_backprop

    X, y = _quadratic_data(config)
    res = fit_backprop(X, y, beta=config["beta"], width=config["width"], steps=config["steps"], lr=config["lr"],
                       seed=config["seed"], device=config["device"])
    net = res.net.cpu().project_()
    return _cert(certify(net, X, y, beta=config["beta"], tol=config["tol"]))


# ------------------------------------------------------------------------------------------------ softmax
def _classification(n: int, d: int, C: int, seed: int, *, separable: bool) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g, dtype=DT)  # non-negative features
    W = 3 * torch.randn(d, C, generator=g, dtype=DT)
    if separable:
        return X, (X @ W).argmax(1)
    return X, torch.multinomial(torch.softmax(X @ W, 1), 1, generator=g).squeeze(1)


def _cvxpy_softmax(X: torch.Tensor, y: torch.Tensor, C: int, lam: float, bias: bool) -> float:
    import cvxpy as cp

    Xn, n = X.numpy(), X.shape[0]
    W = cp.Variable((X.shape[1], C))
    Z = Xn @ W
    if bias:
        b = cp.Variable((1, C))
        Z = Z + np.ones((n, 1)) @ b
    Y = np.eye(C)[y.numpy()]
    obj = cp.sum(cp.log_sum_exp(Z, axis=1)) / n - cp.sum(cp.multiply(Y, Z)) / n
    if lam:
        obj = obj + lam / 2 * cp.sum_squares(W)
    prob = cp.Problem(cp.Minimize(obj))
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9)
    if prob.status != cp.OPTIMAL:  # an optimum at infinity (a partly separable class) stalls the conic solver
        return _lbfgs_softmax(X, y, C, lam, bias)
    return float(prob.value)


def _lbfgs_softmax(X: torch.Tensor, y: torch.Tensor, C: int, lam: float, bias: bool) -> float:
    """The same problem by full-batch L-BFGS (``netoptima.explicit.lbfgs``) to a 1e-10 gradient: an attained value,
    so ≥ the infimum (the fallback reference when CVXPY does not reach 'optimal')."""
    from netoptima.explicit import lbfgs

    model = torch.nn.Linear(X.shape[1], C, bias=bias, dtype=DT)
    torch.nn.init.zeros_(model.weight)
    if bias:
        torch.nn.init.zeros_(model.bias)

    def objective(backward: bool) -> float:
        model.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), y) + 0.5 * lam * model.weight.pow(2).sum()
        if backward:
            loss.backward()
        return float(loss.detach())

    return lbfgs(model, objective, grad_tol=1e-10, max_iter=5000).loss


@run_fn(version=4)
def softmax_trained(config: dict[str, Any]) -> dict[str, Any]:
    """A softmax layer (``kind``: SoftmaxClassifier, or nn.Linear head with weight decay) trained by full-batch
    Adam for ``steps`` steps and its certificate (the optimum: :func:`softmax_reference`)."""
    from netoptima.explicit import SoftmaxClassifier

    C, lam = config["classes"], config["weight_decay"]
    X, y = _classification(config["n"], config["d"], C, config["data_seed"], separable=config["separable"])
    seed_everything(config["seed"])
    if config["kind"] == "linear":
        model: torch.nn.Module = torch.nn.Linear(config["d"], C, dtype=DT)
        weight = model.weight
        opts = {"loss": "cross_entropy"}
    else:
        model = SoftmaxClassifier(config["d"], C, dtype=DT)
        model.reset_parameters(generator=torch.Generator().manual_seed(config["seed"]))
        weight = model.W
        opts = {}
    dev = torch.device(config["device"])
    model.to(dev)
    Xd, yd = X.to(dev), y.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    with torch_threads(1):
        for _ in range(config["steps"]):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(Xd), yd) + 0.5 * lam * weight.pow(2).sum()
            loss.backward()
            opt.step()
    model.cpu()
    c = certify(model, X, y, weight_decay=lam, tol=config["tol"], **opts)
    return {**_cert(c), "separable_detected": c.details.get("separable")}


@run_fn(version=1)
def softmax_reference(config: dict[str, Any]) -> dict[str, Any]:
    """The optimum of the softmax problem of :func:`softmax_trained`'s data by CVXPY (Clarabel), or L-BFGS when
    the conic solver stalls on an optimum at infinity; 0 on separable data without weight decay (the infimum)."""
    C, lam = config["classes"], config["weight_decay"]
    X, y = _classification(config["n"], config["d"], C, config["data_seed"], separable=config["separable"])
    with torch_threads(1):
        ref = 0.0 if config["separable"] and lam == 0 else _cvxpy_softmax(X, y, C, lam, bias=True)
    return {"reference": ref}


# ---------------------------------------------------------------------------------------------------- DEQ
@run_fn(version=2)
def deq_trained(config: dict[str, Any]) -> dict[str, Any]:
    """A DEQLinear trained by gradient descent (``train_deq``) for ``steps`` steps, its certificate, and L* by
    numpy's least squares (square loss) or CVXPY (cross-entropy) on the features."""
    from netoptima.deq import DEQLinear, synthetic, train_deq

    loss = config["loss"]
    X, Y = synthetic(config["data_seed"], config["d"], config["k"], config["n"], "square" if loss == "mse" else loss)
    gen = torch.Generator().manual_seed(config["seed"])
    model = DEQLinear(config["d"], config["k"], generator=gen, dtype=DT)
    with torch_threads(1):
        if config["steps"]:
            train_deq(model, X, Y, steps=config["steps"], lr=config["lr"], loss="square" if loss == "mse" else loss,
                      quiet=True, record_every=config["steps"], device=config["device"])
    model.cpu()
    c = certify(model, X, Y, loss=loss, tol=config["tol"])
    Phi = X.numpy()  # identity feature map
    if loss == "mse":
        sol, *_ = np.linalg.lstsq(Phi, Y.numpy(), rcond=None)
        ref = float(((Phi @ sol - Y.numpy()) ** 2).sum()) / (2 * Phi.shape[0])
    else:
        ref = _cvxpy_softmax(X, Y, config["k"], 0.0, bias=False)
    return {**_cert(c), "reference": ref}


# ----------------------------------------------------------------------------------------- squared loss PL
@run_fn(version=1)
def pl_run(config: dict[str, Any]) -> dict[str, Any]:
    """Gradient descent on ‖f − y‖²/(2n) for a one-hidden-layer tanh MLP; the PL certificate at checkpoints, the
    loss measured there and the distance travelled from the initialisation."""
    from netoptima.models import mlp

    n, d, width = config["n"], config["d"], config["width"]
    g = torch.Generator().manual_seed(config["data_seed"])
    X = torch.randn(n, d, generator=g, dtype=DT) / math.sqrt(d)
    y = torch.randn(n, 1, generator=g, dtype=DT)
    seed_everything(config["seed"])
    model = mlp([d, width, 1], activation=torch.nn.Tanh, dtype=DT)
    theta0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    checkpoints = sorted(set(config["checkpoints"]) | {0})
    records: list[dict[str, Any]] = []
    step, opt = 0, None
    with torch_threads(1):
        for stop in checkpoints:
            while step < stop:
                opt.zero_grad()
                loss = (model(X) - y).pow(2).sum() / (2 * n)
                loss.backward()
                opt.step()
                step += 1
            c = certify(model, X, y, tol=config["tol"])
            with torch.no_grad():
                measured = float((model(X) - y).pow(2).sum()) / (2 * n)
            theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
            det = c.details
            records.append({"step": step, "loss": measured, "certified": c.certified,
                            "lambda_min": det.get("lambda_min"), "lambda_max": det.get("lambda_max"),
                            "pl_bound": det.get("pl_bound"), "pl_radius_half": det.get("pl_radius_half"),
                            "grad_norm": det.get("grad_norm"), "distance": float((theta - theta0).norm()),
                            "reason": det.get("reason")})
            if opt is None:  # step size lr_scale · n/λ_max(JJᵀ) at initialisation: below 2/smoothness of L
                lr = config["lr_scale"] * n / det["lambda_max"]
                opt = torch.optim.SGD(model.parameters(), lr=lr)
    params = sum(p.numel() for p in model.parameters())
    return {"records": records, "parameters": params, "lr": lr}


# --------------------------------------------------------------------------------------------------- CoGO
def _projected_loss(out: torch.Tensor, labels: torch.Tensor) -> float:
    d = out.shape[1]
    o = out - out.mean(1, keepdim=True)
    return float(((o - torch.nn.functional.one_hot(labels, d).to(out.dtype) + 1.0 / d) ** 2).sum(1).mean())


@run_fn(version=1)
def cogo_trained(config: dict[str, Any]) -> dict[str, Any]:
    """A CoGO QuadraticNet trained by full-batch Adam on all d² pairs for ``steps`` steps, its certificate, its
    loss through the part's forward pass, and the loss of the paper's zero-loss construction padded to the same
    width (the independent global optimum)."""
    from netoptima.cogo import QuadraticNet, global_optimizer

    d, q = config["d"], config["width"]
    g = torch.arange(d)
    pairs = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)  # (d², 2)
    labels = (pairs[:, 0] + pairs[:, 1]) % d
    net = QuadraticNet(d, q, seed=config["seed"], dtype=DT).to(config["device"])
    P, y = pairs.to(config["device"]), labels.to(config["device"])
    target = torch.nn.functional.one_hot(y, d).to(DT) - 1.0 / d
    opt = torch.optim.Adam(net.parameters(), lr=config["lr"])
    with torch_threads(1):
        for _ in range(config["steps"]):
            opt.zero_grad()
            out = net(P)
            ((out - out.mean(1, keepdim=True) - target) ** 2).sum(1).mean().backward()
            opt.step()
        net.cpu()
        c = certify(net, pairs, labels, tol=config["tol"])
        with torch.no_grad():
            direct = _projected_loss(net(pairs), labels)
            opt_net = QuadraticNet.from_weights(global_optimizer(d, 4, compensation="dc").to_weights(d, width=q))
            reference = _projected_loss(opt_net(pairs), labels)
    shares = [f["loss_share"] for f in c.details["frequencies"] or []]
    return {**_cert(c), "direct_loss": direct, "reference": reference, "share_sum": float(sum(shares)),
            "zero_loss_width": c.details["zero_loss_width"],
            "constructions": [f["construction"] for f in c.details["frequencies"] or []]}
