"""Explicit solutions: stationarity, naive-Bayes oracles, gap to the L-BFGS optimum, sparse = dense."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.naive_bayes import MultinomialNB

from netoptima.explicit import (
    SoftmaxClassifier,
    SoftmaxLM,
    classifier_solution,
    compress_contexts,
    context_windows,
    cooccurrence,
    explicit_solution,
    feature_label_counts,
    lbfgs,
    lm_loss,
    sparse_explicit_solution,
)
from netoptima.explicit.data import markov_tokens
from netoptima.explicit.optimize import lm_preconditioner
from netoptima.explicit.solutions import fit_alpha, one_hot_solution, row_centered_distance, tempered_solution
from netoptima.explicit.stats import ContextCounts


@pytest.fixture(scope="module")
def markov():
    """Order-2 Markov corpus, N = 20 (the spec's A.3 check-bed, smaller)."""
    return markov_tokens(20, 20_000, order=2, concentration=0.05, seed=0)


def lm(vocab, K, aggregate, U=None):
    m = SoftmaxLM(vocab, context=K, aggregate=aggregate, dtype=torch.float64)
    if U is not None:
        m.load_solution(U)
    return m


def test_one_hot_solution_is_stationary_for_soft_targets(markov):
    """Spec A.7.1: with targets F̃ = F + s, ‖∇L(U)‖ at U = log(F̃/f̃_row) is zero up to float64 rounding."""
    from netoptima.explicit import shakespeare_lm

    words = shakespeare_lm(64, max_train_tokens=20_000)["train"]
    for ids, N in ((markov, 20), (words, 64)):
        Fm = cooccurrence(ids, N, context=1)
        for s in (1e-3, 0.3):
            m = lm(N, 1, "sum", one_hot_solution(Fm, smoothing=s))
            lm_loss(m, ContextCounts.from_matrix(Fm + s), backward=True)
            assert float(m.U.grad.abs().max()) < 1e-10  # each entry is (f̃_i softmax − F̃_ij)/M: exact up to ulps
        # the explicit loss beats the uniform predictor log N on the real (unsmoothed) counts
        data = compress_contexts(*context_windows(ids, 1), N)
        assert lm_loss(lm(N, 1, "sum", one_hot_solution(Fm, smoothing=0.3)), data) < math.log(N) - 0.3


def test_naive_bayes_form_equals_multinomial_naive_bayes(markov):
    """The K-hot form is sklearn's multinomial naive Bayes (alpha = s) with a matching class prior.

    MNB scores log π_j + Σ_i x_i log F̃_ij − K·log(Σ_i F̃_ij) (‖x‖₁ = K); ours Σ_i x_i log F̃_ij − (column term), so
    they are the same model when log π_j = K·log(Σ_i F̃_ij) − (our column term) + a constant.
    """
    N, K, s = 20, 3, 0.5
    stream = markov[:3000]
    ctx, tgt = context_windows(stream, K)
    for aggregate in ("sum", "cat"):
        onehots = F.one_hot(ctx, N).double()
        X = onehots.sum(1) if aggregate == "sum" else onehots.reshape(ctx.shape[0], K * N)
        Fm = cooccurrence(stream, N, context=K, aggregate=aggregate)
        U = explicit_solution(Fm, context=K, aggregate=aggregate, smoothing=s)
        ours = torch.log_softmax(X @ U, 1).numpy()
        f = (Fm.view(-1, N, N) + s).sum(1)  # (blocks, N) smoothed target counts per block
        # our column term, summed over the K active inputs: K·((K−1)/K)·log f̃ ("sum"), Σ_k ((K−1)/K) log f̃^(k) ("cat")
        ours_col = (K - 1) * f[0].log() if aggregate == "sum" else ((K - 1) / K) * f.log().sum(0)
        log_prior = K * f.sum(0).log() - ours_col
        nb = MultinomialNB(alpha=s, class_prior=torch.softmax(log_prior, 0).numpy())
        nb.partial_fit(X.numpy(), tgt.numpy(), classes=np.arange(N))
        assert np.allclose(ours, nb.predict_log_proba(X.numpy()), atol=1e-9)


def test_classifier_prior_form_equals_sklearn_multinomial_nb():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(400, 12, generator=gen, dtype=torch.float64) ** 3
    y = torch.randint(0, 4, (400,), generator=gen)
    Fm, n = feature_label_counts(x, y, 4)
    W, b = classifier_solution(Fm, n, smoothing=0.7)
    ours = torch.log_softmax(SoftmaxClassifier(12, 4, dtype=torch.float64).load_solution(W, b)(x), 1)
    ref = MultinomialNB(alpha=0.7).fit(x.numpy(), y.numpy()).predict_log_proba(x.numpy())
    assert np.allclose(ours.detach().numpy(), ref, atol=1e-10)


@pytest.mark.parametrize("K,aggregate", [(2, "sum"), (4, "sum"), (2, "cat")])
def test_explicit_is_near_the_convex_optimum_and_both_starts_agree(markov, K, aggregate):
    """Spec A.7.3-4: explicit loss < log N, gap to the optimum ≤ 0.2 nats; L-BFGS from explicit and random agree."""
    N = 20
    Fm = cooccurrence(markov, N, context=K, aggregate=aggregate)
    data = compress_contexts(*context_windows(markov, K), N, aggregate=aggregate)
    U = explicit_solution(Fm, context=K, aggregate=aggregate, smoothing=0.01)
    explicit = lm_loss(lm(N, K, aggregate, U), data)
    S = {"U": lm_preconditioner(Fm, data.n_positions)}
    ends = []
    for start in ("explicit", "random"):
        m = lm(N, K, aggregate, U if start == "explicit" else None)
        if start == "random":
            m.reset_parameters(generator=torch.Generator().manual_seed(1))
        res = lbfgs(m, lambda b, m=m: lm_loss(m, data, backward=b), grad_tol=1e-9, max_iter=400, scale=S)
        ends.append(res.loss)
    assert explicit < math.log(N)
    assert 0 <= explicit - min(ends) <= 0.2
    assert abs(ends[0] - ends[1]) < 1e-4


def test_fit_alpha_finds_the_grid_minimum(markov):
    """The 1-D line search for α in U = α·log F̃ against a 40-point grid (oracle)."""
    N = 20
    for K, aggregate in ((2, "sum"), (4, "cat")):
        Fm = cooccurrence(markov, N, context=K, aggregate=aggregate)
        data = compress_contexts(*context_windows(markov, K), N, aggregate=aggregate)
        m = lm(N, K, aggregate)

        def loss(U, m=m, data=data):
            m.load_solution(U)
            return lm_loss(m, data)

        alpha, best = fit_alpha(Fm, loss, smoothing=0.01)
        grid = [loss(tempered_solution(Fm, alpha=a, smoothing=0.01)) for a in np.linspace(0.05, 2, 40)]
        # grid spacing 0.05 around a smooth minimum: the grid can only be above the true minimum, by O(spacing²)
        assert best <= min(grid) + 1e-4
        assert loss(tempered_solution(Fm, alpha=alpha, smoothing=0.01)) == pytest.approx(best, abs=1e-12)


def test_forms_agree_at_k1_and_row_distance_is_offset_invariant(markov):
    N = 20
    Fm = cooccurrence(markov, N, context=1)
    a = one_hot_solution(Fm, smoothing=0.1)
    b = explicit_solution(Fm, smoothing=0.1)  # naive Bayes at K = 1 is log F̃: the same model up to row constants
    c = tempered_solution(Fm, alpha=1.0, smoothing=0.1)
    assert row_centered_distance(a, b) < 1e-12 and row_centered_distance(c, b) < 1e-12
    shift = torch.randn(N, 1, dtype=torch.float64) * 5
    assert row_centered_distance(a + shift, a) < 1e-12
    assert row_centered_distance(torch.zeros_like(a), a) == pytest.approx(1.0)


@pytest.mark.parametrize("K,aggregate", [(1, "sum"), (3, "sum"), (2, "cat")])
def test_sparse_solution_gives_the_dense_predictions(markov, K, aggregate):
    N = 20
    dense = explicit_solution(cooccurrence(markov, N, context=K, aggregate=aggregate), context=K,
                              aggregate=aggregate, smoothing=0.2)
    sp = sparse_explicit_solution(cooccurrence(markov, N, context=K, aggregate=aggregate, sparse=True), context=K,
                                  aggregate=aggregate, smoothing=0.2)
    ctx = torch.randint(0, N, (64, K), generator=torch.Generator().manual_seed(0))
    want = torch.log_softmax(lm(N, K, aggregate, dense)(ctx), 1)
    got = torch.log_softmax(sp.logits(ctx).double(), 1)
    assert torch.allclose(got, want, atol=1e-5)  # sparse values are float32: ~1e-6 relative on logits ~10
    # the dense U built from sparse counts (fill + add at the non-zeros) has the same entries
    Fs = cooccurrence(markov, N, context=K, aggregate=aggregate, sparse=True)
    from_sparse = explicit_solution(Fs, context=K, aggregate=aggregate, smoothing=0.2)
    assert torch.allclose(from_sparse, dense, rtol=0, atol=1e-12)  # log s + log1p(F/s) vs log(F + s) in float64


def test_bad_input_to_solutions():
    Fm = torch.ones(4, 4)
    for s in (0, -1.0):
        with pytest.raises(ValueError, match="smoothing must be a finite number > 0"):
            explicit_solution(Fm, smoothing=s)
    with pytest.raises(ValueError, match="context must be an integer >= 1, got 0"):
        explicit_solution(Fm, context=0)
    with pytest.raises(ValueError, match=r"shape \(8, 4\)"):
        explicit_solution(Fm, context=2, aggregate="cat")
    with pytest.raises(ValueError, match="non-negative counts"):
        explicit_solution(-Fm)
    with pytest.raises(ValueError, match="form='one_hot' is the K = 1 solution"):
        explicit_solution(Fm, context=2, form="one_hot")
    with pytest.raises(ValueError, match="smoothing"):
        classifier_solution(Fm, torch.ones(4), smoothing=0.0)
