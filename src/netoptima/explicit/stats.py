"""Sufficient statistics in one pass: F = XᵀY without building X (Williams & Zhao 2023, §3; spec A.2-A.4).

* :func:`cooccurrence` - the LM's context-target counts F_ij = Σ_m x_{m,i} y_{m,j}, streamed over chunks of
  the token stream, dense or sparse (COO). Row i of F is a context token (block k of "cat" = offset k+1),
  column j a target token; F has the shape ``(dim_x, N)`` of the weight U.
* :func:`feature_label_counts` - the classifier's F = XᵀY (summed feature value per class) and class counts.
* :func:`context_windows` - the (M, K) context ids and (M,) targets of a token stream (ids, never one-hots).
* :class:`ContextCounts` / :func:`compress_contexts` - the data reduced to its distinct contexts and
  (context, target) pairs with multiplicities: the cross-entropy of any model is exactly the same as on the
  full token stream, but costs one forward pass per *distinct* context (the bigram case collapses to N rows).

Memory: a dense F costs ``dim_x · N`` floats (N = 50,000 would need 20 GB in float64), the sparse form
costs 24 bytes per distinct (context token, target) pair: at most ``K · M`` pairs for M positions, so a
1M-token corpus with K = 4 fits in under 100 MB at any vocabulary size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.functional import one_hot

from netoptima.conventions import check_choice, check_int, check_memory
from netoptima.explicit.models import AGGREGATES, check_ids, check_nonnegative

__all__ = ["ContextCounts", "compress_contexts", "context_windows", "cooccurrence", "feature_label_counts"]

_INT63 = 2**63 - 1


def context_windows(ids: Tensor, context: int) -> tuple[Tensor, Tensor]:
    """The contexts and targets of a token stream: position m ≥ K reads tokens m−1 … m−K (spec A.2).

    Arguments:
        ids: 1-D integer tensor of token ids (length T > K).
        context: context radius K ≥ 1.

    Returns:
        ``(contexts, targets)``: int64 ``(T−K, K)`` with column k = the token k+1 steps back, and ``(T−K,)``.
    """
    K = check_int("context", context, low=1)
    if not isinstance(ids, Tensor) or ids.dim() != 1:
        raise ValueError(f"ids must be a 1-D tensor of token ids, got {getattr(ids, 'shape', type(ids).__name__)}")
    T = ids.shape[0]
    if T <= K:
        raise ValueError(f"ids must hold more than context={K} tokens, got {T}")
    ids = ids.long()
    contexts = torch.stack([ids[K - 1 - k: T - 1 - k] for k in range(K)], dim=1)  # (T-K, K)
    return contexts, ids[K:]


def _chunks(ids: Tensor | Iterable[Tensor], chunk_size: int) -> Iterable[Tensor]:
    if isinstance(ids, Tensor):
        if ids.dim() != 1:
            raise ValueError(f"ids must be a 1-D tensor (or an iterable of 1-D chunks), got shape {tuple(ids.shape)}")
        yield from ids.split(chunk_size)
    else:
        for c in ids:
            if not isinstance(c, Tensor) or c.dim() != 1:
                raise ValueError(f"each chunk of ids must be a 1-D tensor, got {getattr(c, 'shape', type(c).__name__)}")
            yield c


def _pair_keys(ext: Tensor, K: int, vocab: int, aggregate: str) -> Tensor:
    """Flat indices row·N + target of every (context row, target) incidence in one chunk (with its K-token lead)."""
    L = ext.shape[0]
    target = ext[K:]  # (L-K,)
    keys = []
    for k in range(K):
        row = ext[K - 1 - k: L - 1 - k] + (k * vocab if aggregate == "cat" else 0)  # (L-K,) row of F
        keys.append(row * vocab + target)
    return torch.cat(keys)  # (K·(L-K),)


def cooccurrence(ids: Tensor | Iterable[Tensor], vocab: int, *, context: int = 1, aggregate: str = "sum",
                 sparse: bool = False, chunk_size: int = 1 << 18, dtype: torch.dtype = torch.float64) -> Tensor:
    """F = XᵀY, the context-target co-occurrence counts, in one streamed pass (spec A.2, "F").

    X is never built: each chunk of the token stream contributes its (context row, target) incidences, and
    the last K tokens of a chunk are carried into the next so a stream split anywhere gives the same F.

    Arguments:
        ids: the token stream, a 1-D integer tensor or an iterable of 1-D chunks of it (e.g. read lazily).
        vocab: vocabulary size N ≥ 2; every id must be in ``[0, N)``.
        context: context radius K ≥ 1.
        aggregate: ``"sum"`` (F is N x N, Σ over the K offsets) or ``"cat"`` (F is KN x N, block k = offset
            k+1).
        sparse: return a coalesced ``torch.sparse_coo_tensor`` (memory ∝ distinct pairs) instead of dense.
        chunk_size: tokens per chunk when ``ids`` is one tensor.
        dtype: of the dense counts (float32 counts are exact up to 2^24 per cell; sparse counts are float64).

    Returns:
        Counts of shape ``(dim_x, N)``, ``dim_x = N`` ("sum") or ``K·N`` ("cat").

    Raises:
        ValueError: bad vocab / context / aggregate / chunk_size, or a token id outside the vocabulary.
    """
    N = check_int("vocab", vocab, low=2)
    K = check_int("context", context, low=1)
    check_choice("aggregate", aggregate, AGGREGATES)
    chunk_size = check_int("chunk_size", chunk_size, low=1)
    dim_x = N * (K if aggregate == "cat" else 1)
    if dim_x * N > _INT63:
        raise ValueError(f"vocab={N} with context={K} ({aggregate}) overflows int64 flat indices")
    check_choice("dtype", dtype, [torch.float32, torch.float64])
    if not sparse:
        check_memory(f"a dense cooccurrence(vocab={N}, context={K}) (use sparse=True)", (dim_x, N), dtype=dtype)
    dense = None if sparse else torch.zeros(dim_x * N, dtype=dtype)  # flat (dim_x·N,)
    keys_acc, counts_acc = torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.float64)
    tail = torch.zeros(0, dtype=torch.long)
    for chunk in _chunks(ids, chunk_size):
        chunk = check_ids("ids", chunk, N)
        ext = torch.cat([tail, chunk])  # (K' + len,) the chunk with the last ≤ K tokens of the stream before it
        tail = ext[-K:]
        if ext.shape[0] <= K:
            continue
        keys = _pair_keys(ext, K, N, aggregate)
        if dense is not None:
            dense.index_add_(0, keys, torch.ones(keys.shape[0], dtype=dtype))
        else:  # merge this chunk's distinct pairs into the running sorted (key, count) lists
            k, c = torch.unique(keys, return_counts=True)
            keys_all = torch.cat([keys_acc, k])
            keys_acc, inv = torch.unique(keys_all, return_inverse=True)
            counts_acc = torch.zeros(keys_acc.shape[0], dtype=torch.float64).index_add_(
                0, inv, torch.cat([counts_acc, c.double()]))
    if dense is not None:
        return dense.view(dim_x, N)
    idx = torch.stack([keys_acc // N, keys_acc % N])  # (2, nnz)
    return torch.sparse_coo_tensor(idx, counts_acc, (dim_x, N), check_invariants=False).coalesce()


def feature_label_counts(x: Tensor, y: Tensor, n_classes: int, *,
                         chunk_size: int = 8192) -> tuple[Tensor, Tensor]:
    """F = XᵀY (feature mass per class, spec A.4) and the class counts, streamed over row chunks.

    Arguments:
        x: ``(M, d)`` non-negative features.
        y: ``(M,)`` integer labels in ``[0, n_classes)``.
        n_classes: number of classes C ≥ 2.
        chunk_size: rows per chunk (Y is never one-hot encoded).

    Returns:
        ``(F, n)``: float64 ``(d, C)`` with F_ic = Σ_{m: y_m = c} x_{m,i}, and float64 ``(C,)`` class counts.

    Raises:
        ValueError: negative or non-finite features, labels out of range, mismatched lengths.
    """
    C = check_int("n_classes", n_classes, low=2)
    chunk_size = check_int("chunk_size", chunk_size, low=1)
    if x.dim() != 2 or y.dim() != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must be (M, d) and y (M,) with the same M, got {tuple(x.shape)} and {tuple(y.shape)}")
    check_nonnegative("x", x)
    y = check_ids("y", y, C)
    check_memory(f"feature_label_counts(n_classes={C})", (C, x.shape[1]), (min(chunk_size, x.shape[0]), C),
                 dtype=torch.float64)
    G = torch.zeros(C, x.shape[1], dtype=torch.float64)  # (C, d) = Fᵀ
    for xs, ys in zip(x.split(chunk_size), y.split(chunk_size), strict=True):
        # YᵀX of one chunk as a matmul in x's dtype (a float32 chunk sums ≤ chunk_size values: ~1e-7 relative),
        # accumulated across chunks in float64
        G += (one_hot(ys, C).to(xs.dtype).T @ xs).double()  # (C, d)
    return G.T.contiguous(), torch.bincount(y, minlength=C).double()


@dataclass(frozen=True)
class ContextCounts:
    """A token stream reduced to distinct contexts and (context, target) pairs with their multiplicities.

    The mean cross-entropy −(1/M) Σ_m log ŷ_{m, t_m} equals (1/M)[Σ_c n_c·logsumexp(z_c) − Σ_p n_p·z_{c_p, t_p}].

    Attributes:
        contexts: ``(C, K)`` int64 distinct contexts (sorted within the row for "sum": a bag).
        context_counts: ``(C,)`` float64 multiplicity n_c.
        pair_context: ``(P,)`` int64 index into ``contexts``, non-decreasing.
        pair_target: ``(P,)`` int64 target id.
        pair_counts: ``(P,)`` float64 multiplicity n_p.
        vocab: vocabulary size N.
        aggregate: ``"sum"`` or ``"cat"``.
        n_positions: M = Σ n_c.
    """

    contexts: Tensor
    context_counts: Tensor
    pair_context: Tensor
    pair_target: Tensor
    pair_counts: Tensor
    vocab: int
    aggregate: str
    n_positions: float

    @property
    def context(self) -> int:
        return self.contexts.shape[1]

    @classmethod
    def from_matrix(cls, F: Tensor) -> ContextCounts:
        """One-hot inputs weighted by a (soft) count matrix F (N x N): context i has targets F_i· (spec A.7.1)."""
        if F.dim() != 2 or F.shape[0] != F.shape[1] or F.is_sparse:
            raise ValueError(f"F must be a dense square (N, N) count matrix, got {tuple(F.shape)}")
        if float(F.min()) < 0:
            raise ValueError(f"F must hold non-negative counts, got minimum {float(F.min()):g}")
        N = F.shape[0]
        i, j = torch.nonzero(F, as_tuple=True)
        return cls(torch.arange(N)[:, None], F.sum(1).double(), i, j, F[i, j].double(), N, "sum",
                   float(F.sum()))


def _row_keys(rows: Tensor, base: int) -> Tensor | None:
    """Encode each row of small non-negative ints as one int64 (base-``base`` digits), or None if it overflows."""
    K = rows.shape[1]
    if base ** K > _INT63:
        return None
    key = torch.zeros(rows.shape[0], dtype=torch.long)
    for k in range(K):
        key = key * base + rows[:, k]
    return key


def compress_contexts(contexts: Tensor, targets: Tensor, vocab: int, *, aggregate: str = "sum") -> ContextCounts:
    """Group positions by distinct context (a bag for "sum", a tuple for "cat") and (context, target) pair.

    Arguments:
        contexts: ``(M, K)`` context ids, as from :func:`context_windows`.
        targets: ``(M,)`` target ids.
        vocab: vocabulary size N.
        aggregate: ``"sum"`` or ``"cat"``; a "sum" context is order-free, so its ids are sorted first.

    Returns:
        :class:`ContextCounts` with exactly the same loss as the M positions for any model.
    """
    N = check_int("vocab", vocab, low=2)
    check_choice("aggregate", aggregate, AGGREGATES)
    if contexts.dim() != 2 or targets.dim() != 1 or contexts.shape[0] != targets.shape[0]:
        raise ValueError(f"contexts must be (M, K) and targets (M,), got {tuple(contexts.shape)}, "
                         f"{tuple(targets.shape)}")
    contexts, targets = check_ids("contexts", contexts, N), check_ids("targets", targets, N)
    rows = contexts.sort(dim=1).values if aggregate == "sum" else contexts  # (M, K)
    key = _row_keys(rows, N)
    if key is not None:
        _, first, inv = _unique_first(key)
        uniq = rows[first]  # (C, K)
    else:
        uniq, inv = torch.unique(rows, dim=0, return_inverse=True)
    C = uniq.shape[0]
    pair_key, pair_counts = torch.unique(inv * N + targets, return_counts=True)  # sorted by context, then target
    return ContextCounts(uniq, torch.bincount(inv, minlength=C).double(), pair_key // N, pair_key % N,
                         pair_counts.double(), N, aggregate, float(contexts.shape[0]))


def _unique_first(key: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Sorted unique keys, the index of one occurrence of each, and the inverse map."""
    uniq, inv = torch.unique(key, return_inverse=True)
    first = torch.empty(uniq.shape[0], dtype=torch.long).scatter_(0, inv, torch.arange(key.shape[0]))
    return uniq, first, inv
