"""L-BFGS (with and without the diagonal preconditioner), minibatch training, divergence, classifier losses."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.optimize import minimize

from netoptima.conventions import TrainingDiverged
from netoptima.explicit import (
    SoftmaxClassifier,
    SoftmaxLM,
    TrainResult,
    accuracy,
    classifier_loss,
    compress_contexts,
    context_windows,
    lbfgs,
    lm_loss,
    train,
)
from netoptima.explicit.data import markov_tokens
from netoptima.explicit.optimize import classifier_preconditioner


def logistic_problem():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(300, 8, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (300,), generator=gen)
    return x, y


def scipy_optimum(x, y, ridge):
    """Independent solver: scipy L-BFGS-B on the same regularised logistic loss in numpy."""
    X, Y = x.numpy(), np.eye(3)[y.numpy()]

    def f(theta):
        W, b = theta[:24].reshape(8, 3), theta[24:]
        z = X @ W + b
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        P = np.exp(logp)
        loss = -(Y * logp).sum() / len(X) + ridge * (W**2).sum()
        gW = X.T @ (P - Y) / len(X) + 2 * ridge * W
        return loss, np.concatenate([gW.ravel(), (P - Y).sum(0) / len(X)])

    return minimize(f, np.zeros(27), jac=True, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15}).fun


@pytest.mark.parametrize("precondition", [False, True])
def test_lbfgs_reaches_the_scipy_optimum(precondition):
    x, y = logistic_problem()
    ridge = 1e-3  # strictly convex, so the optimum is attained and unique
    m = SoftmaxClassifier(8, 3, dtype=torch.float64)

    def objective(backward):
        loss = classifier_loss(m, x, y, backward=backward)
        reg = ridge * m.W.pow(2).sum()
        if backward:
            reg.backward()
        return loss + float(reg.detach())

    res = lbfgs(m, objective, grad_tol=1e-7, max_iter=500,
                scale=classifier_preconditioner(x, 3) if precondition else None)
    assert res.converged and res.grad_max <= 1e-7
    # strongly convex with curvature ≥ 2·ridge: L − L* ≤ ‖∇L‖²/(4·ridge) ≤ 27·1e-14/4e-3 ≈ 7e-10
    assert res.loss == pytest.approx(scipy_optimum(x, y, ridge), abs=1e-9)


def test_lbfgs_rejects_unknown_or_non_positive_scales():
    m = SoftmaxClassifier(2, 2)
    with pytest.raises(ValueError, match="scale names unknown parameters"):
        lbfgs(m, lambda b: 0.0, scale={"V": torch.ones(2, 2)})
    with pytest.raises(ValueError, match="positive everywhere"):
        lbfgs(m, lambda b: 0.0, scale={"W": torch.zeros(2, 2)})


def test_train_reduces_the_loss_and_records_the_curve():
    ids = markov_tokens(12, 4000, order=1, concentration=0.2, seed=1)
    ctx, tgt = context_windows(ids, 1)
    data = compress_contexts(ctx, tgt, 12)
    m = SoftmaxLM(12)
    res = train(m, ctx, tgt, lr=0.05, epochs=2, batch_size=256, evals_per_epoch=2,
                evaluate=lambda: {"train": lm_loss(m, data)}, quiet=True)
    assert isinstance(res, TrainResult) and res.steps == 2 * res.steps_per_epoch == 2 * 16  # 3999 positions
    assert [r["epoch"] for r in res.curve] == pytest.approx([0, 0.5, 1, 1.5, 2], abs=0.05)
    assert res.curve[-1]["train"] < res.curve[0]["train"] - 0.3  # from log 12 = 2.48 on a peaked bigram chain
    with pytest.raises(FrozenInstanceError):
        res.steps = 0
    stopped = train(SoftmaxLM(12), ctx, tgt, lr=0.05, epochs=5, evaluate=lambda: {"x": 1.0},
                    stop=lambda r: r["step"] >= 1, quiet=True)
    assert stopped.curve[-1]["epoch"] < 5 and stopped.steps < 5 * stopped.steps_per_epoch


def test_train_takes_steps_or_epochs_and_converts_epochs_at_entry():
    x, y = logistic_problem()
    by_steps = train(SoftmaxClassifier(8, 3), x, y, lr=0.1, steps=7, batch_size=50, eval_every=3, quiet=True)
    assert by_steps.steps == 7 and [r["step"] for r in by_steps.curve] == [0, 3, 6, 7]
    by_epochs = train(SoftmaxClassifier(8, 3), x, y, lr=0.1, epochs=0.5, batch_size=50, quiet=True)
    assert by_epochs.steps == 3  # 300 points / 50 = 6 steps per epoch
    for bad in ({}, {"steps": 3, "epochs": 1.0}):
        with pytest.raises(ValueError, match="exactly one of steps and epochs"):
            train(SoftmaxClassifier(8, 3), x, y, lr=0.1, quiet=True, **bad)


def test_train_places_the_model_on_the_device_and_dtype():
    x, y = logistic_problem()  # float64 data
    m = SoftmaxClassifier(8, 3, dtype=torch.float32)
    train(m, x, y, lr=0.1, steps=2, batch_size=50, device="cpu", dtype=torch.float64, quiet=True)
    assert m.W.dtype == torch.float64 and m.W.device.type == "cpu"
    m32 = SoftmaxClassifier(8, 3, dtype=torch.float64)
    train(m32, x, y, lr=0.1, steps=2, batch_size=50, dtype=torch.float32, quiet=True)  # float64 batches are cast
    assert m32.W.dtype == torch.float32


def test_divergence_raises_training_diverged():
    x, y = logistic_problem()
    m = SoftmaxClassifier(8, 3, dtype=torch.float64)
    with pytest.raises(TrainingDiverged, match="learning rate 1e"):
        train(m, x * 1e150, y, optimizer="sgd", lr=1e300, epochs=3, batch_size=50, quiet=True)


def test_a_finite_blow_up_is_divergence_too():
    """lr 1e12 used to end with a batch loss of 2.6e23 and no error: 1e4 × the first batch loss is divergence."""
    x, y = logistic_problem()
    with pytest.raises(TrainingDiverged):
        train(SoftmaxClassifier(8, 3), x, y, optimizer="sgd", lr=1e12, steps=20, batch_size=50, quiet=True)
    ids = markov_tokens(12, 2000, order=1, seed=2)
    ctx, tgt = context_windows(ids, 1)
    with pytest.raises(TrainingDiverged):
        train(SoftmaxLM(12), ctx, tgt, optimizer="sgd", lr=1e12, steps=20, batch_size=64, quiet=True)


def test_classifier_loss_and_accuracy_match_torch():
    x, y = logistic_problem()
    m = SoftmaxClassifier(8, 3, dtype=torch.float64)
    m.reset_parameters(generator=torch.Generator().manual_seed(3))
    want = float(F.cross_entropy(m(x), y).detach())
    assert classifier_loss(m, x, y, chunk_size=7) == pytest.approx(want, abs=1e-13)
    assert accuracy(m, x, y, chunk_size=7) == pytest.approx(float((m(x).argmax(1) == y).double().mean()))
