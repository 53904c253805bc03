"""The real data of the part: a word-level Shakespeare LM and MNIST (spec A.6; BabyLM is not available offline).

* :func:`shakespeare_lm` - vocabulary of the most frequent training words + ``<unk>``, train/valid/test
  split by play (``netoptima.data.shakespeare``), optionally truncated to the first tokens of each split.
* :func:`lm_task` - one (K, aggregate) setting: statistics F, compressed train/valid data, training windows.
* :func:`mnist01` - MNIST pixels in [0, 1] (``netoptima.data.mnist``).
* :func:`markov_tokens` - a synthetic order-r Markov corpus (the spec's A.3 check-bed, with known structure).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from netoptima.conventions import check_choice, check_int
from netoptima.explicit.models import AGGREGATES
from netoptima.explicit.stats import ContextCounts, compress_contexts, context_windows, cooccurrence

__all__ = ["LMTask", "lm_task", "markov_tokens", "mnist01", "shakespeare_lm"]


def shakespeare_lm(vocab_size: int, *, max_train_tokens: int | None = None,
                   max_eval_tokens: int | None = None) -> dict[str, Tensor]:
    """Word-level Shakespeare encoded with a vocabulary built on the training plays.

    Arguments:
        vocab_size: N including ``<unk>`` (id 0), ≥ 2; the other ids are the N−1 most frequent training words.
        max_train_tokens: keep the first this many training tokens (``None``: all 985,856).
        max_eval_tokens: keep the first this many valid / test tokens (``None``: all).

    Returns:
        ``{"train", "valid", "test"}`` int64 id streams. The vocabulary is built on the kept training tokens.
    """
    N = check_int("vocab_size", vocab_size, low=2)
    if max_train_tokens is not None:
        check_int("max_train_tokens", max_train_tokens, low=2)
    if max_eval_tokens is not None:
        check_int("max_eval_tokens", max_eval_tokens, low=2)
    return {k: v.clone() for k, v in _encoded(N, max_train_tokens, max_eval_tokens).items()}


@functools.lru_cache(maxsize=4)
def _encoded(N: int, max_train: int | None, max_eval: int | None) -> dict[str, Tensor]:
    from netoptima.data import build_vocab, encode, shakespeare

    cap = {"train": max_train, "valid": max_eval, "test": max_eval}
    splits = {s: shakespeare(s)[: cap[s]] for s in ("train", "valid", "test")}
    vocab = build_vocab(splits["train"], N)
    return {s: encode(toks, vocab) for s, toks in splits.items()}


@dataclass(frozen=True)
class LMTask:
    """Everything one (K, aggregate) LM setting needs: statistics, exact compressed losses, training windows."""

    vocab: int
    context: int
    aggregate: str
    F: Tensor  # (dim_x, N) co-occurrence counts of the training stream
    train: ContextCounts
    valid: ContextCounts
    test: ContextCounts | None
    contexts: Tensor  # (M, K) training windows for minibatch backprop
    targets: Tensor  # (M,)
    row_weights: Tensor  # (dim_x,) how often each row of U is read in training (for distances)


def lm_task(ids: dict[str, Tensor], vocab: int, *, context: int, aggregate: str) -> LMTask:
    """Build an :class:`LMTask` from encoded splits ``{"train", "valid"[, "test"]}`` (e.g. ``shakespeare_lm``)."""
    N = check_int("vocab", vocab, low=2)
    K = check_int("context", context, low=1)
    check_choice("aggregate", aggregate, AGGREGATES)
    if not isinstance(ids, dict) or "train" not in ids or "valid" not in ids:
        keys = sorted(map(str, ids)) if isinstance(ids, dict) else type(ids).__name__
        raise ValueError(f"ids must be a dict with 'train' and 'valid' streams (and optionally 'test'), got {keys}")
    F = cooccurrence(ids["train"], N, context=K, aggregate=aggregate)
    ctx, tgt = context_windows(ids["train"], K)
    held_out = {s: compress_contexts(*context_windows(ids[s], K), N, aggregate=aggregate) if s in ids else None
                for s in ("valid", "test")}
    if held_out["valid"] is None:
        raise ValueError(f"ids must have a 'valid' stream (and optionally 'test'), got keys {sorted(ids)}")
    return LMTask(N, K, aggregate, F, compress_contexts(ctx, tgt, N, aggregate=aggregate), held_out["valid"],
                  held_out["test"], ctx, tgt, F.sum(1))


def mnist01(n_train: int | None, n_test: int | None, *, source: str = "full") -> dict[str, Tensor]:
    """MNIST flattened, pixels in [0, 1]: ``{"x_train", "y_train", "x_test", "y_test"}`` (float32 / int64).

    ``n_train`` / ``n_test``: a fixed subset (``netoptima.data.mnist`` permutation) or ``None`` for the split.
    """
    from netoptima.data import mnist

    x, y = mnist(n_train, split="train", source=source)
    xt, yt = mnist(n_test, split="test", source=source)
    return {"x_train": x, "y_train": y, "x_test": xt, "y_test": yt}


def markov_tokens(vocab: int, n_tokens: int, *, order: int = 2, concentration: float = 0.1,
                  seed: int = 0) -> Tensor:
    """A synthetic order-r Markov token stream (spec A.3's synthetic comparison used N = 40, r = 2, 60k tokens).

    Arguments:
        vocab: N ≥ 2.
        n_tokens: stream length ≥ order + 1.
        order: r ≥ 1, how many previous tokens the next one depends on.
        concentration: Dirichlet concentration of each context's next-token distribution (small = peaked).
        seed: generator seed.

    Returns:
        int64 ``(n_tokens,)`` ids in ``[0, N)``.
    """
    from netoptima.conventions import check_positive

    N = check_int("vocab", vocab, low=2)
    r = check_int("order", order, low=1)
    T = check_int("n_tokens", n_tokens, low=r + 1)
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    if N**r > 10**7:
        raise ValueError(f"vocab**order = {N}**{r} transition rows is too many (≤ 1e7)")
    cum = rng.dirichlet(np.full(N, check_positive("concentration", concentration)), size=N**r).cumsum(1)  # (N^r, N)
    out = np.empty(T, dtype=np.int64)
    out[:r] = rng.integers(0, N, r)
    u = rng.random(T)
    state = 0
    for t in range(r):
        state = state * N + out[t]
    for t in range(r, T):
        nxt = min(int(np.searchsorted(cum[state], u[t])), N - 1)
        out[t] = nxt
        state = (state * N + nxt) % (N**r)
    return torch.from_numpy(out)
