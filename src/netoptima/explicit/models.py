"""Single-layer softmax models on positive features (Williams & Zhao 2023, §2; spec explicit_deq.md A.2).

* :class:`SoftmaxLM` - ŷ_m = softmax(x_m U + b) with x_m the K-hot bag ("sum") or the concatenated one-hots
  ("cat") of the previous K tokens. The K-hot product x_m U is an ``embedding_bag`` over the K context ids,
  so the input matrix X (M x N or M x KN) is never built.
* :class:`SoftmaxClassifier` - ŷ = softmax(x W + b) on non-negative features (MNIST pixels in [0, 1]).
* :class:`TwoLayerSoftmax` - h = softmax(x W1 + b1), ŷ = softmax(h W2 + b2): the two-layer net that is
  warm-started layer by layer (spec A.5).

All of them take keyword-only options, validate their inputs at the door and return logits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from netoptima.conventions import check_choice, check_int, check_memory

__all__ = ["AGGREGATES", "SoftmaxClassifier", "SoftmaxLM", "TwoLayerSoftmax", "check_ids", "check_nonnegative"]

AGGREGATES = ("sum", "cat")
_DTYPES = [None, torch.float32, torch.float64]


def check_ids(name: str, ids: Tensor, vocab: int) -> Tensor:
    """Validate an integer id tensor with every entry in ``[0, vocab)``; return it as int64."""
    if not isinstance(ids, Tensor) or ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise ValueError(f"{name} must be an integer tensor of token ids, got {type(ids).__name__}"
                         f"{'' if not isinstance(ids, Tensor) else ' of dtype ' + str(ids.dtype)}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
        bad = int(ids.min()) if int(ids.min()) < 0 else int(ids.max())
        raise ValueError(f"{name} must hold token ids in [0, {vocab - 1}] (vocabulary of {vocab}), got {bad}")
    return ids.long()


def check_nonnegative(name: str, x: Tensor) -> Tensor:
    """Validate a floating feature tensor with finite, non-negative entries (the paper's positive features)."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got "
                         f"{type(x).__name__ if not isinstance(x, Tensor) else x.dtype}")
    if x.numel():
        lo, hi = (float(v) for v in torch.aminmax(x.detach()))  # one pass; NaN propagates into both
        if not (lo >= 0 and math.isfinite(hi)):
            raise ValueError(f"{name} must hold finite non-negative features (the explicit solution assumes "
                             f"positive-valued inputs), got values in [{lo:g}, {hi:g}]")
    return x


class SoftmaxLM(nn.Module):
    """Single-layer softmax LM ŷ_m = softmax(x_m U + b) over the previous K tokens (spec A.2).

    Arguments:
        vocab: vocabulary size N (≥ 2).
        context: context radius K (≥ 1), the number of previous tokens the model reads.
        aggregate: ``"sum"`` (x_m = Σ_k e_{t_{m-k}} ∈ R^N, a K-hot bag) or ``"cat"``
            (x_m = [e_{t_{m-1}}; …; e_{t_{m-K}}] ∈ R^{KN}, one weight block per offset).
        bias: add a per-target bias b ∈ R^N (an intercept; the explicit solutions set it to 0).
        dtype: parameter dtype (torch's default when ``None``).

    ``U`` has shape ``(dim_x, N)`` with ``dim_x = N`` for "sum" and ``K·N`` for "cat" (block k, rows
    ``k·N … (k+1)·N − 1``, holds offset k+1). Parameters start at zero; :meth:`reset_parameters` draws a
    random init and :meth:`load_solution` copies an explicit solution in.
    """

    def __init__(self, vocab: int, *, context: int = 1, aggregate: str = "sum", bias: bool = False,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.vocab = check_int("vocab", vocab, low=2)
        self.context = check_int("context", context, low=1)
        self.aggregate = check_choice("aggregate", aggregate, AGGREGATES)
        dtype = check_choice("dtype", dtype, _DTYPES) or torch.get_default_dtype()
        dim_x = self.vocab * (self.context if aggregate == "cat" else 1)
        check_memory(f"SoftmaxLM(vocab={self.vocab}, context={self.context})", (dim_x, self.vocab), dtype=dtype)
        self.U = nn.Parameter(torch.zeros(dim_x, self.vocab, dtype=dtype))  # (dim_x, N)
        self.b = nn.Parameter(torch.zeros(self.vocab, dtype=dtype)) if bias else None  # (N,)
        # block offsets turn context ids into rows of U: 0 for "sum", k·N for block k of "cat"
        offsets = torch.arange(self.context) * self.vocab if aggregate == "cat" else torch.zeros(self.context)
        self.register_buffer("offsets", offsets.long(), persistent=False)  # (K,)

    @property
    def dim_x(self) -> int:
        return self.U.shape[0]

    def reset_parameters(self, *, generator: torch.Generator | None = None, std: float | None = None) -> None:
        """Random init U ~ N(0, std²) (default std = 1/√K, so each logit starts with unit variance); b = 0."""
        std = 1.0 / math.sqrt(self.context) if std is None else float(std)
        with torch.no_grad():
            self.U.copy_(torch.randn(self.U.shape, generator=generator, dtype=self.U.dtype) * std)
            if self.b is not None:
                self.b.zero_()

    def load_solution(self, U: Tensor, b: Tensor | None = None) -> SoftmaxLM:
        """Copy an explicit solution ``U`` (dim_x, N) (and bias) into the parameters; returns ``self``."""
        if tuple(U.shape) != tuple(self.U.shape):
            raise ValueError(f"U must have shape {tuple(self.U.shape)} for this model, got {tuple(U.shape)}")
        with torch.no_grad():
            self.U.copy_(U)
            if self.b is not None:
                self.b.copy_(torch.zeros(self.vocab) if b is None else b)
        return self

    def rows(self, contexts: Tensor) -> Tensor:
        """Validated rows of U read by ``contexts`` (B, K): the ids, shifted by k·N in block k for "cat".

        Raises:
            ValueError: wrong shape, or an id outside ``[0, N)``.
        """
        if not isinstance(contexts, Tensor) or contexts.dim() != 2 or contexts.shape[1] != self.context:
            raise ValueError(f"contexts must have shape (batch, {self.context}) (context K={self.context}), "
                             f"got {tuple(getattr(contexts, 'shape', ())) or type(contexts).__name__}")
        contexts = check_ids("contexts", contexts, self.vocab)
        return contexts + self.offsets.to(contexts.device)  # (B, K)

    def forward(self, contexts: Tensor) -> Tensor:
        """Logits x U + b for ``contexts`` (B, K) of token ids (column k = the token k+1 steps back).

        Returns:
            ``(B, N)`` logits.

        Raises:
            ValueError: wrong shape, or an id outside ``[0, N)``.
        """
        z = F.embedding_bag(self.rows(contexts), self.U, mode="sum")  # (B, N) = x U without building x
        return z if self.b is None else z + self.b


class SoftmaxClassifier(nn.Module):
    """Single-layer softmax classifier ŷ = softmax(x W + b) on non-negative features (spec A.4).

    Arguments:
        n_features: input dimension d (≥ 1).
        n_classes: number of classes C (≥ 2).
        bias: per-class intercept b (the paper's "separate-intercept implementation").
        dtype: parameter dtype (torch's default when ``None``).

    ``W`` has shape ``(d, C)`` (features x classes, like U of the LM); parameters start at zero.
    """

    def __init__(self, n_features: int, n_classes: int, *, bias: bool = True, dtype: torch.dtype | None = None):
        super().__init__()
        self.n_features = check_int("n_features", n_features, low=1)
        self.n_classes = check_int("n_classes", n_classes, low=2)
        dtype = check_choice("dtype", dtype, _DTYPES) or torch.get_default_dtype()
        check_memory(f"SoftmaxClassifier({self.n_features}, {self.n_classes})", (self.n_features, self.n_classes),
                     dtype=dtype)
        self.W = nn.Parameter(torch.zeros(self.n_features, self.n_classes, dtype=dtype))  # (d, C)
        self.b = nn.Parameter(torch.zeros(self.n_classes, dtype=dtype)) if bias else None  # (C,)

    def reset_parameters(self, *, generator: torch.Generator | None = None, std: float | None = None) -> None:
        """Random init W ~ N(0, std²) (default 1/√d, PyTorch-like scale); b = 0."""
        std = 1.0 / math.sqrt(self.n_features) if std is None else float(std)
        with torch.no_grad():
            self.W.copy_(torch.randn(self.W.shape, generator=generator, dtype=self.W.dtype) * std)
            if self.b is not None:
                self.b.zero_()

    def load_solution(self, W: Tensor, b: Tensor | None = None) -> SoftmaxClassifier:
        """Copy explicit weights ``W`` (d, C) and bias ``b`` (C,) into the parameters; returns ``self``."""
        if tuple(W.shape) != tuple(self.W.shape):
            raise ValueError(f"W must have shape {tuple(self.W.shape)}, got {tuple(W.shape)}")
        with torch.no_grad():
            self.W.copy_(W)
            if self.b is not None:
                self.b.copy_(torch.zeros(self.n_classes) if b is None else b)
        return self

    def forward(self, x: Tensor) -> Tensor:
        """Logits x W + b for features ``x`` (B, d) ≥ 0; returns ``(B, C)``.

        Raises:
            ValueError: wrong shape or a negative / non-finite feature.
        """
        if x.dim() != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"x must have shape (batch, {self.n_features}), got {tuple(x.shape)}")
        check_nonnegative("x", x)
        z = x.to(self.W.dtype) @ self.W  # (B, C)
        return z if self.b is None else z + self.b


class TwoLayerSoftmax(nn.Module):
    """Two softmax layers h = softmax(x W1 + b1), ŷ = softmax(h W2 + b2) (layer-local warm start, spec A.5).

    The hidden layer is itself a positive-feature softmax model, so each layer has an explicit solution.

    Arguments:
        n_features: input dimension d (≥ 1).
        n_hidden: hidden width H (≥ 2); the layer-local warm start uses H = C (hidden units predict labels).
        n_classes: number of classes C (≥ 2).
        dtype: parameter dtype.
    """

    def __init__(self, n_features: int, n_hidden: int, n_classes: int, *, dtype: torch.dtype | None = None):
        super().__init__()
        self.layer1 = SoftmaxClassifier(n_features, n_hidden, dtype=dtype)
        self.layer2 = SoftmaxClassifier(n_hidden, n_classes, dtype=dtype)

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Random init of both layers (see :meth:`SoftmaxClassifier.reset_parameters`)."""
        self.layer1.reset_parameters(generator=generator)
        self.layer2.reset_parameters(generator=generator)

    def hidden(self, x: Tensor) -> Tensor:
        """The hidden softmax activations h (B, H), positive by construction."""
        return torch.softmax(self.layer1(x), dim=1)  # (B, H)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the output layer, ``(B, C)``."""
        return self.layer2(self.hidden(x))
