"""The part certifiers against independent optima: the SDP (CVXPY), CVXPY / L-BFGS solves of the softmax
problem, numpy's least squares for the DEQ; plus save/load of the parts' models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from netoptima.certification import NotCertifiable, certify, load, save

DT = torch.float64


# ------------------------------------------------------------------------------------------- quadratic nets
@pytest.fixture(scope="module")
def quad():
    from netoptima.convex import PAPER_ACTIVATION, fit_backprop, fit_global, fit_sdp, planted_demo

    X, y, _, _ = planted_demo(n=30, d=4, neurons=3, noise=0.1, seed=0, unit_neurons=True)
    beta = 0.5
    sdp = fit_sdp(X, y, activation=PAPER_ACTIVATION, beta=beta, solver="CLARABEL")
    glob = fit_global(X, y, activation=PAPER_ACTIVATION, beta=beta, tol=1e-10).net
    short = fit_backprop(X, y, beta=beta, width=12, steps=200, lr=1e-2).net.project_()
    return X, y, beta, sdp.value, glob, short


def test_quadratic_bound_brackets_the_sdp_value(quad, one_thread):
    X, y, beta, p_star, glob, short = quad
    for net in (glob, short):
        c = certify(net, X, y, beta=beta)
        assert c.method == "quadratic_trust_region_dual"
        assert c.lower_bound <= p_star + 1e-7 * p_star
        assert c.objective >= p_star - 1e-7 * p_star
    c_glob, c_short = certify(glob, X, y, beta=beta, tol=1e-6), certify(short, X, y, beta=beta, tol=1e-6)
    assert c_glob.certified and abs(c_glob.lower_bound - p_star) <= 1e-6 * p_star  # tight at the optimum
    assert not c_short.certified and c_short.gap > 1e-2 and "infeasible by the factor" in c_short.details["reason"]


def test_quadratic_losses_and_options(quad, one_thread):
    from netoptima.convex import objective

    X, y, beta, _, glob, _ = quad
    n = X.shape[0]
    own = certify(glob, X, y, beta=beta)
    assert own.objective == pytest.approx(objective(glob, X, y, beta=beta), rel=1e-12)
    mse = certify(glob, X, y, beta=beta, loss="mse")
    with torch.no_grad():
        r = glob(torch.as_tensor(X)).numpy() - y
    alpha = float(glob.alpha.detach().abs().sum())
    assert mse.objective == pytest.approx(float(r @ r) / (2 * n) + beta * alpha, rel=1e-12)
    assert mse.lower_bound <= mse.objective
    with pytest.raises(ValueError, match="needs the option beta"):
        certify(glob, X, y)
    with pytest.raises(ValueError, match="not supported"):
        certify(glob, X, y, beta=beta, loss="cross_entropy")


def test_quadratic_save_load_and_old_files(quad, tmp_path, one_thread):
    from netoptima.convex import save_net

    X, y, beta, _, glob, _ = quad
    save(glob, tmp_path / "q.pt")
    back = load(tmp_path / "q.pt")
    assert certify(back, X, y, beta=beta).objective == certify(glob, X, y, beta=beta).objective
    save_net(glob, tmp_path / "old.pt")  # the part's bare state dict
    old = load(tmp_path / "old.pt")
    assert torch.equal(old.U, glob.U) and torch.equal(old.alpha, glob.alpha)


# ------------------------------------------------------------------------------------------- softmax layers
def _classification(n: int = 120, d: int = 5, C: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g, dtype=DT)
    W = 3 * torch.randn(d, C, generator=g, dtype=DT)
    y = torch.multinomial(torch.softmax(X @ W, 1), 1, generator=g).squeeze(1)
    return X, y


def _cvxpy_optimum(X: torch.Tensor, y: torch.Tensor, C: int, lam: float, bias: bool) -> float:
    import cvxpy as cp

    Xn, n = X.numpy(), X.shape[0]
    W = cp.Variable((X.shape[1], C))
    b = cp.Variable(C) if bias else None
    Z = Xn @ W + (np.ones((n, 1)) @ cp.reshape(b, (1, C), order="C") if bias else 0)
    Y = np.eye(C)[y.numpy()]
    obj = cp.sum(cp.log_sum_exp(Z, axis=1)) / n - cp.sum(cp.multiply(Y, Z)) / n + lam / 2 * cp.sum_squares(W)
    prob = cp.Problem(cp.Minimize(obj))
    prob.solve(solver="CLARABEL")
    return float(prob.value)


def _lbfgs_fit(model: nn.Module, X: torch.Tensor, y: torch.Tensor, lam: float, weight: torch.Tensor) -> float:
    from netoptima.explicit import lbfgs

    def objective(backward: bool) -> float:
        model.zero_grad()
        L = F.cross_entropy(model(X), y) + 0.5 * lam * weight.pow(2).sum()
        if backward:
            L.backward()
        return float(L.detach())

    return lbfgs(model, objective, grad_tol=1e-11, max_iter=3000).loss


@pytest.mark.parametrize("lam, bias", [(0.0, True), (0.05, True), (0.05, False)])
def test_softmax_classifier_bound_against_cvxpy(lam, bias, one_thread):
    from netoptima.explicit import SoftmaxClassifier

    X, y = _classification()
    C = 3
    ref = _cvxpy_optimum(X, y, C, lam, bias)  # independent interior-point solve
    m = SoftmaxClassifier(5, C, bias=bias, dtype=DT)
    start = certify(m, X, y, weight_decay=lam)  # at W = 0
    assert start.lower_bound <= ref + 1e-7 and start.objective >= ref - 1e-7
    assert not start.certified
    _lbfgs_fit(m, X, y, lam, m.W)
    c = certify(m, X, y, weight_decay=lam)
    assert c.lower_bound <= ref + 1e-7 <= c.objective + 2e-7
    assert c.gap <= 1e-8 and c.certified  # tight at the optimum


def test_linear_head_with_bias_decay_against_lbfgs(one_thread):
    X, y = _classification(seed=1)
    lam = 0.1
    lin = nn.Linear(5, 3).double()
    before = certify(lin, X, y, loss="cross_entropy", weight_decay=lam, bias_decay=True)
    ref_model = nn.Linear(5, 3).double()

    def reg_all(model):  # λ/2 (‖W‖² + ‖b‖²) as one tensor for _lbfgs_fit
        return torch.cat([model.weight.reshape(-1), model.bias])

    from netoptima.explicit import lbfgs

    def objective(backward: bool) -> float:
        ref_model.zero_grad()
        L = F.cross_entropy(ref_model(X), y) + 0.5 * lam * reg_all(ref_model).pow(2).sum()
        if backward:
            L.backward()
        return float(L.detach())

    ref = lbfgs(ref_model, objective, grad_tol=1e-11, max_iter=3000).loss
    assert before.lower_bound <= ref + 1e-9 <= before.objective
    c = certify(ref_model, X, y, loss="cross_entropy", weight_decay=lam, bias_decay=True)
    assert c.gap <= 1e-9 and c.objective == pytest.approx(ref, abs=1e-12)
    assert certify(lin, X, torch.randn(120, 3, dtype=DT)).method == "squared_loss_pl"  # mse: the generic one
    with pytest.raises(ValueError, match="unknown option"):
        certify(lin, X, y, loss="cross_entropy", last_layer=True)


def test_softmax_separable_data_has_the_unattained_infimum_zero(one_thread):
    from netoptima.explicit import SoftmaxClassifier

    g = torch.Generator().manual_seed(0)
    X = torch.rand(60, 2, generator=g, dtype=DT)
    y = (X[:, 0] > X[:, 1]).long()
    m = SoftmaxClassifier(2, 2, bias=False, dtype=DT)
    direction = torch.tensor([[1.0, -1.0], [-1.0, 1.0]], dtype=DT)  # logit_0 − logit_1 = 2(x0 − x1)·scale
    losses = []
    for scale in (-10.0, 10.0, 1e4):  # wrong way round, right way, nearly at the infimum
        with torch.no_grad():
            m.W.copy_(-scale * direction)
        c = certify(m, X, y)
        assert c.details["separable"] is True and c.lower_bound == 0.0 and c.gap == c.objective
        losses.append(c.objective)
        assert c.certified == (c.objective <= 1e-6)
    assert losses[0] > losses[1] > losses[2] and losses[2] < 1e-6  # the loss tends to 0: the infimum
    assert "not attained" in " ".join(c.assumptions)
    # not separable: a flipped label breaks it
    y2 = y.clone()
    y2[0] = 1 - y2[0]
    assert certify(m, X, y2).details["separable"] is False


def test_softmax_lm_bound_against_lbfgs(one_thread):
    from netoptima.explicit import SoftmaxLM

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 4, (300, 3), generator=g)
    lm = SoftmaxLM(4, context=2, aggregate="cat", bias=True, dtype=DT)
    lm.reset_parameters(generator=g)
    before = certify(lm, ids[:, :2], ids[:, 2])
    ref_model = SoftmaxLM(4, context=2, aggregate="cat", bias=True, dtype=DT)
    ref = _lbfgs_fit(ref_model, ids[:, :2], ids[:, 2], 0.0, ref_model.U)
    assert before.lower_bound <= ref + 1e-9 <= before.objective
    after = certify(ref_model, ids[:, :2], ids[:, 2])
    assert after.gap <= 1e-8 and after.certified


def test_softmax_bad_input():
    from netoptima.explicit import SoftmaxClassifier

    m = SoftmaxClassifier(3, 2, dtype=DT)
    X = torch.rand(10, 3, dtype=DT)
    with pytest.raises(ValueError, match="integer class labels"):
        certify(m, X, torch.full((10,), 2))
    with pytest.raises(ValueError, match="non-negative"):
        certify(m, -X, torch.zeros(10))
    with pytest.raises(ValueError, match="not supported"):
        certify(m, X, torch.zeros(10), loss="mse")
    X[0, 0] = math.nan
    with pytest.raises(ValueError, match="finite"):
        certify(m, X, torch.zeros(10))


# --------------------------------------------------------------------------------------------------- DEQ
def test_deq_closed_form_against_numpy_lstsq_and_gd(one_thread):
    from netoptima.deq import DEQLinear, synthetic, train_deq

    X, Y = synthetic(0, 6, 2, 30, "square")
    g = torch.Generator().manual_seed(0)
    m = DEQLinear(6, 2, generator=g, dtype=DT)
    sol, *_ = np.linalg.lstsq(X.numpy(), Y.numpy(), rcond=None)
    L_star = float(((X.numpy() @ sol - Y.numpy()) ** 2).sum()) / (2 * 30)
    c0 = certify(m, X, Y)
    assert c0.lower_bound == pytest.approx(L_star, rel=1e-10) and not c0.certified
    with torch.no_grad():
        assert c0.objective == pytest.approx(float((m(X) - Y).pow(2).sum()) / 60, rel=1e-12)
    train_deq(m, X, Y, steps=400, lr=0.05, quiet=True, record_every=400)  # long GD run
    c = certify(m, X, Y)
    assert c.lower_bound == pytest.approx(L_star, rel=1e-10)
    assert c.gap == pytest.approx(c.objective - L_star, abs=1e-12) and c.gap < c0.gap * 1e-3


def test_deq_cross_entropy_dual_below_newton_and_save_load(tmp_path, one_thread):
    from netoptima.deq import DEQLinear, linear_optimum, synthetic

    X, y = synthetic(0, 5, 3, 80, "cross_entropy")
    g = torch.Generator().manual_seed(1)
    m = DEQLinear(5, 3, width=4, feature_map="random", generator=g, dtype=DT)
    c = certify(m, X, y, loss="cross_entropy")
    newton = linear_optimum(m.features(X).detach(), y, loss="cross_entropy").value
    assert c.lower_bound <= newton + 1e-9 <= c.objective + 1e-9
    assert c.lower_bound == pytest.approx(newton, abs=1e-8)  # the dual meets the Newton optimum
    save(m, tmp_path / "deq.pt")
    back = load(tmp_path / "deq.pt")
    assert certify(back, X, y, loss="cross_entropy").objective == pytest.approx(c.objective, rel=1e-12)


def test_anything_else_is_not_certifiable():
    with pytest.raises(NotCertifiable, match="DEQLinear"):
        certify(object(), np.zeros((2, 2)), np.zeros(2))


# --------------------------------------------------------------------------------------------------- CLI
def test_cli_certifies_every_part_class(quad, tmp_path, capsys, one_thread):
    import json

    from netoptima.certification.cli import certify_main
    from netoptima.deq import DEQLinear, synthetic
    from netoptima.explicit import SoftmaxClassifier, SoftmaxLM

    X, y, beta, _, glob, _ = quad
    Xc, yc = _classification()
    ids = torch.randint(0, 4, (50, 3), generator=torch.Generator().manual_seed(0))
    Xd, Yd = synthetic(0, 4, 2, 20, "square")
    cases = [(glob, X, y, ["--beta", str(beta)], "quadratic_trust_region_dual"),
             (SoftmaxClassifier(5, 3, dtype=DT), Xc, yc, [], "softmax_fenchel_dual"),
             (SoftmaxLM(4, context=2, dtype=DT), ids[:, :2], ids[:, 2], [], "softmax_fenchel_dual"),
             (nn.Linear(5, 3).double(), Xc, yc, ["--loss", "cross_entropy", "--weight-decay", "0.1"],
              "softmax_fenchel_dual"),
             (DEQLinear(4, 2, dtype=DT), Xd, Yd, [], "deq_linear_closed_form")]
    for k, (model, Xk, yk, extra, method) in enumerate(cases):
        save(model, tmp_path / f"m{k}.pt")
        np.savez(tmp_path / f"d{k}.npz", X=np.asarray(Xk), y=np.asarray(yk))
        assert certify_main([str(tmp_path / f"m{k}.pt"), str(tmp_path / f"d{k}.npz"), "--json", *extra]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["method"] == method and out["lower_bound"] <= out["objective"] + 1e-12
    assert certify_main([str(tmp_path / "m0.pt"), str(tmp_path / "d0.npz")]) == 2  # no --beta: a clear error
    assert "needs the option beta" in capsys.readouterr().err
