"""Models of netoptima.explicit: forward = x U against an explicitly built X, invariances, errors at the door."""

from __future__ import annotations

import pytest
import torch

from netoptima.explicit import SoftmaxClassifier, SoftmaxLM, TwoLayerSoftmax, context_windows


def dense_inputs(contexts: torch.Tensor, vocab: int, aggregate: str) -> torch.Tensor:
    """The input matrix X the models never build: K-hot bags ("sum") or concatenated one-hots ("cat")."""
    B, K = contexts.shape
    onehots = torch.nn.functional.one_hot(contexts, vocab).double()  # (B, K, N)
    return onehots.sum(1) if aggregate == "sum" else onehots.reshape(B, K * vocab)


@pytest.mark.parametrize("aggregate", ["sum", "cat"])
@pytest.mark.parametrize("bias", [False, True])
def test_lm_forward_is_x_times_u(aggregate, bias):
    gen = torch.Generator().manual_seed(0)
    N, K = 11, 3
    m = SoftmaxLM(N, context=K, aggregate=aggregate, bias=bias, dtype=torch.float64)
    m.reset_parameters(generator=gen)
    if bias:
        with torch.no_grad():
            m.b.normal_(generator=gen)
    ctx = torch.randint(0, N, (50, K), generator=gen)
    X = dense_inputs(ctx, N, aggregate)  # (50, dim_x)
    want = X @ m.U.detach() + (m.b.detach() if bias else 0)
    # same float64 products summed in another order: agreement to a few ulps of |logits| ~ 3
    assert torch.allclose(m(ctx), want, rtol=0, atol=1e-12)
    assert m.U.shape == (N * (K if aggregate == "cat" else 1), N)


def test_row_offsets_never_change_predictions():
    """Spec A.7.2: U + c·1ᵀ gives the same softmax for every input (any sign), and so for every context."""
    gen = torch.Generator().manual_seed(1)
    N, K = 9, 2
    for aggregate in ("sum", "cat"):
        m = SoftmaxLM(N, context=K, aggregate=aggregate, dtype=torch.float64)
        m.reset_parameters(generator=gen)
        ctx = torch.randint(0, N, (40, K), generator=gen)
        before = torch.log_softmax(m(ctx), 1)
        c = torch.randn(m.dim_x, 1, generator=gen, dtype=torch.float64) * 10  # (dim_x, 1) one constant per row
        with torch.no_grad():
            m.U += c
        assert torch.allclose(torch.log_softmax(m(ctx), 1), before, atol=1e-12)
        # signed, arbitrary inputs: the shift of every logit is the same x·c
        x = torch.randn(30, m.dim_x, generator=gen, dtype=torch.float64)
        U = m.U.detach()
        assert torch.allclose(torch.log_softmax(x @ (U + c), 1), torch.log_softmax(x @ U, 1), atol=1e-10)


def test_classifier_forward_and_two_layer_hidden_is_positive():
    gen = torch.Generator().manual_seed(2)
    m = SoftmaxClassifier(5, 3, dtype=torch.float64)
    m.reset_parameters(generator=gen)
    x = torch.rand(7, 5, generator=gen, dtype=torch.float64)
    assert torch.allclose(m(x), x @ m.W.detach() + m.b.detach(), atol=1e-14)
    two = TwoLayerSoftmax(5, 4, 3, dtype=torch.float64)
    two.reset_parameters(generator=gen)
    h = two.hidden(x)
    assert (h > 0).all() and torch.allclose(h.sum(1), torch.ones(7, dtype=torch.float64))
    assert two(x).shape == (7, 3)


def test_errors_at_the_door():
    m = SoftmaxLM(10, context=2)
    with pytest.raises(ValueError, match=r"token ids in \[0, 9\].*got 10"):
        m(torch.tensor([[1, 10]]))
    with pytest.raises(ValueError, match="got -1"):
        m(torch.tensor([[-1, 3]]))
    with pytest.raises(ValueError, match=r"shape \(batch, 2\)"):
        m(torch.tensor([[1, 2, 3]]))
    with pytest.raises(ValueError, match="integer tensor"):
        m(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="context must be an integer >= 1, got 0"):
        SoftmaxLM(10, context=0)
    with pytest.raises(ValueError, match="aggregate must be one of"):
        SoftmaxLM(10, aggregate="mean")
    with pytest.raises(ValueError, match="context must be an integer >= 1"):
        context_windows(torch.arange(5), 0)
    c = SoftmaxClassifier(3, 2)
    with pytest.raises(ValueError, match="non-negative features"):
        c(torch.tensor([[0.5, -0.1, 0.2]]))
    with pytest.raises(ValueError, match="non-negative features"):
        c(torch.tensor([[0.5, float("nan"), 0.2]]))
    with pytest.raises(ValueError, match="non-negative features"):
        c(torch.tensor([[0.5, float("inf"), 0.2]]))
    with pytest.raises(ValueError, match=r"W must have shape \(3, 2\)"):
        c.load_solution(torch.zeros(2, 3))
