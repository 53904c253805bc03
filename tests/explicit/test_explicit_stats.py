"""Statistics of netoptima.explicit: streamed / sparse F equals the dense XᵀY; compression keeps the loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from netoptima.explicit import (
    SoftmaxLM,
    compress_contexts,
    context_windows,
    cooccurrence,
    feature_label_counts,
    lm_loss,
)
from netoptima.explicit.stats import ContextCounts


def dense_XtY(ids: torch.Tensor, vocab: int, K: int, aggregate: str) -> torch.Tensor:
    """Brute-force oracle: materialise X (M, dim_x) and one-hot Y (M, N) and multiply."""
    ctx, tgt = context_windows(ids, K)
    onehots = F.one_hot(ctx, vocab).double()  # (M, K, N)
    X = onehots.sum(1) if aggregate == "sum" else onehots.reshape(ctx.shape[0], K * vocab)
    return X.T @ F.one_hot(tgt, vocab).double()


@pytest.mark.parametrize("K,aggregate", [(1, "sum"), (2, "sum"), (3, "cat"), (4, "sum"), (4, "cat")])
def test_streamed_and_sparse_counts_equal_dense_XtY(K, aggregate):
    gen = torch.Generator().manual_seed(K)
    N = 7
    ids = torch.randint(0, N, (503,), generator=gen)
    want = dense_XtY(ids, N, K, aggregate)
    for chunk in (1, 2, 5, 64, 10_000):  # chunk boundaries anywhere, even inside a context window
        assert torch.equal(cooccurrence(ids, N, context=K, aggregate=aggregate, chunk_size=chunk), want)
    sp = cooccurrence(ids, N, context=K, aggregate=aggregate, sparse=True, chunk_size=37)
    assert sp.is_sparse and torch.equal(sp.to_dense(), want)
    # an iterable of uneven chunks of the same stream (as read lazily from disk)
    pieces = list(ids.split([1, 100, 3, 399]))
    assert torch.equal(cooccurrence(iter(pieces), N, context=K, aggregate=aggregate), want)


def test_feature_label_counts_equal_dense_XtY():
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(301, 6, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 4, (301,), generator=gen)
    Fm, n = feature_label_counts(x, y, 4, chunk_size=17)
    assert torch.allclose(Fm, x.T @ F.one_hot(y, 4).double(), atol=1e-12)
    assert torch.equal(n, torch.bincount(y, minlength=4).double())


@pytest.mark.parametrize("aggregate", ["sum", "cat"])
def test_compressed_loss_and_hand_gradient_equal_autograd_on_the_stream(aggregate):
    """lm_loss (distinct contexts, hand-written gradient) vs autograd cross-entropy over every position."""
    gen = torch.Generator().manual_seed(4)
    N, K = 13, 3
    ids = torch.randint(0, 5, (2000,), generator=gen) * 2  # few distinct contexts, so compression matters
    ctx, tgt = context_windows(ids, K)
    data = compress_contexts(ctx, tgt, N, aggregate=aggregate)
    assert data.contexts.shape[0] < ctx.shape[0] and data.n_positions == ctx.shape[0]
    m = SoftmaxLM(N, context=K, aggregate=aggregate, bias=True, dtype=torch.float64)
    m.reset_parameters(generator=gen)
    with torch.no_grad():
        m.b.normal_(generator=gen)
    loss = lm_loss(m, data, backward=True, chunk_size=7)
    grads = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    ref = F.cross_entropy(m(ctx), tgt)
    ref.backward()
    # float64 sums of ~2000 terms of size ~5 in different orders: 1e-12 is ~100 ulps
    assert loss == pytest.approx(ref.item(), abs=1e-12)
    for g, p in zip(grads, m.parameters(), strict=True):
        assert torch.allclose(g, p.grad, atol=1e-13)


def test_context_counts_from_matrix_is_the_weighted_bigram_loss():
    gen = torch.Generator().manual_seed(5)
    Fm = torch.rand(6, 6, generator=gen, dtype=torch.float64) * 3
    data = ContextCounts.from_matrix(Fm)
    m = SoftmaxLM(6, dtype=torch.float64)
    m.reset_parameters(generator=gen)
    want = -(Fm * torch.log_softmax(m.U.detach(), 1)).sum() / Fm.sum()
    assert lm_loss(m, data) == pytest.approx(float(want), abs=1e-13)


def test_bad_input_to_statistics():
    with pytest.raises(ValueError, match=r"token ids in \[0, 4\].*got 5"):
        cooccurrence(torch.tensor([0, 1, 5, 2]), 5, context=1)
    with pytest.raises(ValueError, match="context must be an integer >= 1, got 0"):
        cooccurrence(torch.tensor([0, 1, 2]), 5, context=0)
    with pytest.raises(ValueError, match="non-negative features"):
        feature_label_counts(torch.tensor([[0.1, -0.2]]), torch.tensor([0]), 2)
    with pytest.raises(ValueError, match=r"token ids in \[0, 1\]"):
        feature_label_counts(torch.tensor([[0.1, 0.2]]), torch.tensor([2]), 2)
    with pytest.raises(ValueError, match="must not|does not match"):
        lm_loss(SoftmaxLM(5, context=2), compress_contexts(*context_windows(torch.arange(5), 1), 5))
