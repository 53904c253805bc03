"""Training helpers and one run of each experiment: data prep, divergence, the Cor. 4.6 gradient and bound."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netoptima.conventions import TrainingDiverged
from netoptima.mup import MLP, SGDResult, best_log2_lr, load_images, lr_regret, standardize, train_sgd
from netoptima.mup.experiments import (
    convergence_run,
    effective_lr,
    feature_run,
    last_layer_gradient,
    lr_run,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny matmuls: one thread is fastest on a shared box
NET = {"depth": 3, "activation": "relu", "base_width": 64, "dataset": "mnist", "data_seed": 0, "device": "cpu"}


def test_standardize_and_load_images():
    X = torch.rand(5, 2, 3) * 7 + 1
    Z = standardize(X)
    assert Z.shape == (5, 6)
    torch.testing.assert_close(Z.mean(dim=1), torch.zeros(5), atol=1e-6, rtol=0)
    torch.testing.assert_close(Z.pow(2).mean(dim=1), torch.ones(5), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="constant image"):
        standardize(torch.ones(2, 4))
    X, Y = load_images("mnist", 20, split="test", seed=1)
    assert X.shape == (20, 784) and Y.shape == (20, 10) and torch.equal(Y.sum(dim=1), torch.ones(20))
    with pytest.raises(ValueError, match="dataset must be one of 'mnist', 'cifar10'"):
        load_images("svhn", 3)


def test_train_sgd_decreases_loss_and_reports_divergence():
    X, Y = load_images("mnist", 32)
    model = MLP(784, 128, 10, depth=3, parametrization="mup", generator=torch.Generator().manual_seed(0))
    seen = []
    res = train_sgd(model, X, Y, steps=30, lr=0.25, callback=lambda t, m: seen.append(t), every=10,
                    device="cpu", dtype=torch.float32)
    assert isinstance(res, SGDResult) and res.steps == 30 and res.lr == 0.25
    assert len(res.losses) == 30 and res.losses[-1] < 0.2 * res.losses[0]
    assert seen == [0, 10, 20, 30]
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.lr = 1.0  # type: ignore[misc]
    sp = MLP(784, 512, 10, depth=3, parametrization="sp", generator=torch.Generator().manual_seed(0))
    with pytest.raises(TrainingDiverged, match="training diverged at step .* with learning rate 1e\\+06"):
        train_sgd(sp, X, Y, steps=50, lr=1e6)


def test_train_sgd_contract_dtype_and_shapes():
    X, Y = load_images("mnist", 16)
    model = MLP(784, 64, 10, depth=3, parametrization="mup", generator=torch.Generator().manual_seed(0))
    res = train_sgd(model, X, Y, steps=2, lr=0.1, dtype=torch.float64)  # moves the model, casts the data
    assert model.layers[0].weight.dtype == torch.float64 and len(res.losses) == 2
    with pytest.raises(TypeError):
        train_sgd(model, X, Y, 2, 0.1)  # type: ignore[misc]  # steps and lr are keyword-only
    with pytest.raises(ValueError, match=r"Y must have shape \(16, 10\).*got \(16, 1\)"):
        train_sgd(model, X, Y[:, :1], steps=1, lr=0.1)  # would broadcast onto the 10 outputs
    with pytest.raises(ValueError, match=r"Y must have shape \(16, 10\)"):
        train_sgd(model, X, Y[:8], steps=1, lr=0.1)
    with pytest.raises(ValueError, match=r"X must have shape \(M, 784\)"):
        train_sgd(model, X[:, :100], Y, steps=1, lr=0.1)
    with pytest.raises(ValueError, match="steps must be an integer >= 0"):
        train_sgd(model, X, Y, steps=-1, lr=0.1)


def test_train_sgd_finite_blowup_is_divergence():
    # a finite loss 1e4 × above the start is divergence too (conventions.check_finite_loss with start=)
    X, Y = load_images("mnist", 16)
    model = MLP(784, 64, 10, depth=3, parametrization="mup", generator=torch.Generator().manual_seed(0))
    calls = []

    def blow_up(t, m):  # after the first step, scale the readout by 1e4: the loss jumps by ~1e8, stays finite
        calls.append(t)
        if t == 1:
            with torch.no_grad():
                m.layers[-1].weight.mul_(1e4)

    with pytest.raises(TrainingDiverged, match="over 10000 × max\\(starting loss"):
        train_sgd(model, X, Y, steps=3, lr=1e-6, callback=blow_up)


def test_last_layer_gradient_is_autograd_and_bound_holds():
    X, Y = load_images("mnist", 16)
    X, Y = X.double(), Y.double()
    model = MLP(784, 64, 10, depth=3, parametrization="mup", generator=torch.Generator().manual_seed(0),
                dtype=torch.float64)
    G, ell, XL = last_layer_gradient(model, X, Y)
    loss = F.mse_loss(model(X), Y)
    (gw,) = torch.autograd.grad(loss, [model.layers[-1].weight])
    # ∂L/∂W_eff = ∂L/∂w / multiplier (W = m·w); float64, same formula: agree to roundoff
    torch.testing.assert_close(G, gw / model.layers[-1].multiplier, rtol=1e-12, atol=1e-15)
    lam = float(torch.linalg.eigvalsh(XL @ XL.T)[0])
    bound = Y.numel() / 4 * float(G.norm()) ** 2 / lam
    assert float(loss.detach()) <= bound * (1 + 1e-9)  # ‖G‖² = tr(ℓ'ᵀKℓ') >= λ_min(K)‖ℓ'‖² and L = (Nk/4)‖ℓ'‖²


def test_one_feature_run_and_convergence_run():
    cfg = {"parametrization": "mup", "lr_rule": "table", "width": 128, "lr": 0.1, "steps": 3, "batch": 16,
           "n_train": 32, "n_probe": 8, "seed": 0, **NET}
    r = feature_run(cfg)
    assert not r["diverged"] and len(r["change"]) == 2 and all(c > 0 for c in r["change"])
    assert all(v > 0 for v in r["lam"]) and r["lam_n"][0] == pytest.approx(r["lam"][0] / 128)
    c = convergence_run({"parametrization": "mup", "width": 128, "lr": 0.25, "steps": 20, "every": 10, "n_probe": 8,
                         "seed": 0, **NET})
    assert c["t"] == [0, 10, 20] and c["loss"][-1] < c["loss"][0]
    assert all(b >= ls * (1 - 1e-6) for b, ls in zip(c["bound"], c["loss"], strict=True))
    bad = lr_run({"parametrization": "sp", "width": 256, "lr": 1e5, "steps": 20, "batch": 16, "n_train": 32,
                  "seed": 0, **NET})
    assert bad["diverged"] and bad["loss"] is None


def test_effective_lr_rules():
    assert effective_lr(0.1, "table", 1024, 64) == 0.1
    assert effective_lr(0.1, "inverse_width", 1024, 64) == pytest.approx(0.1 / 16)
    with pytest.raises(ValueError, match="lr_rule must be one of 'table', 'inverse_width'"):
        effective_lr(0.1, "sqrt", 8, 8)


def test_best_log2_lr_parabola_is_exact_on_a_parabola():
    ks = [-4, -3, -2, -1, 0, 1]
    losses = [math.exp((k + 1.7) ** 2) for k in ks]  # log loss is a parabola with vertex at −1.7
    assert best_log2_lr(ks, losses) == pytest.approx(-1.7, abs=1e-9)
    assert best_log2_lr(ks, [None, None, 0.3, 0.2, None, None]) == -1  # argmin next to a divergence: no refinement
    assert math.isnan(best_log2_lr(ks, [None] * 6))
    assert lr_regret(ks, [None, 0.4, 0.2, 0.1, None, None], -2.1) == pytest.approx(2.0)
    assert lr_regret(ks, [None, 0.4, 0.2, 0.1, None, None], 0.2) == math.inf


def test_feature_run_smoke_values_are_finite():
    r = feature_run({"parametrization": "mf", "lr_rule": "table", "width": 64, "lr": 0.1, "steps": 2, "batch": 8,
                     "n_train": 16, "n_probe": 8, "seed": 1, **NET})
    assert np.isfinite(r["lam0_n"]).all() and np.isfinite(r["change"]).all()


def test_cifar10_is_used_when_the_user_points_to_its_files(tmp_path, monkeypatch):
    import pickle

    from netoptima.data import CIFAR10_ENV
    from netoptima.mup.data import dataset_for_scale

    monkeypatch.delenv(CIFAR10_ENV, raising=False)
    assert dataset_for_scale() == "mnist"
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:  # the official file layout, random pixels
        with open(tmp_path / name, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 256, size=(8, 3072), dtype=np.uint8),
                         b"labels": [int(v) for v in rng.integers(0, 10, size=8)]}, f, protocol=2)
    monkeypatch.setenv(CIFAR10_ENV, str(tmp_path))
    assert dataset_for_scale() == "cifar10"
    X, Y = load_images("cifar10", 12)
    assert X.shape == (12, 3072) and Y.shape == (12, 10)
    r = feature_run({"parametrization": "mup", "lr_rule": "table", "width": 32, "lr": 0.05, "steps": 2, "batch": 8,
                     "n_train": 40, "n_probe": 4, "seed": 0, **NET, "dataset": "cifar10"})
    assert not r["diverged"] and len(r["change"]) == 2
    with pytest.raises(ValueError, match="n=41 is larger than the CIFAR-10 'train' split"):
        load_images("cifar10", 41)


def test_joint_gram_is_singular_without_training_and_not_after():
    # Chen et al.'s third measure: with no step the final features are the initial ones, so the 2N rows of the joint
    # Gram span only N directions and λ_min(J) is 0 up to float32 roundoff (features ~1, roundoff ~1e-7, so
    # λ_min/mean eigenvalue ~1e-14 < 1e-8); μP after 20 steps moves them out of that span (well above 1e-8).
    cfg = {"parametrization": "mup", "lr_rule": "table", "width": 128, "lr": 0.1, "batch": 16, "n_train": 64,
           "n_probe": 8, "seed": 0, **NET, "activation": "tanh"}
    still = feature_run({**cfg, "steps": 0})
    moved = feature_run({**cfg, "steps": 20})
    assert all(v < 1e-8 for v in still["joint_rel"]), still["joint_rel"]
    assert all(v > 1e-4 for v in moved["joint_rel"]), moved["joint_rel"]
    assert all(v > 0 for v in still["base2_n"]) and still["base2_n"] == moved["base2_n"]
    # the joint Gram is the paper's λ_min over the 2N concatenated features: σ_min² of the stacked (2N, n) matrix
    assert moved["joint_n"][0] == pytest.approx(moved["joint"][0] / 128)
    with pytest.raises(ValueError, match=r"n_probe must be in 1…32 \(2·n_probe <= width 64 .*got 40"):
        feature_run({**cfg, "steps": 1, "width": 64, "n_probe": 40})
