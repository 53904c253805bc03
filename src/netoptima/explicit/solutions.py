"""Explicit (closed-form) solutions of single-layer softmax models (Williams & Zhao 2023; spec A.3-A.5).

Everything is a function of the statistics F = XᵀY (see :mod:`netoptima.explicit.stats`), computed in one
pass; no gradient step is taken. The softmax is invariant to per-row constants of U (row i of U is added to
every logit with the same weight x_i), so only the target-dependent parts of each formula matter.

What is verified and what is reconstructed (the paper's full text was not available, spec A.1/A.3):

* one-hot inputs: U = log(F / f_row) is the published solution of the word2vec log-softmax objective
  (Williams & Heidenreich 2022, quoted in the IaMaN README) and an exact stationary point [verified];
* K-hot / positive inputs: the paper prints a two-term formula whose exact form and sign could not be read.
  The default here is the naive-Bayes form U = log F − ((K−1)/K)·log f_target [reconstructed], the ablation
  is the tempered U = α·log F with a 1-D line search for α [reconstructed]; both reduce to the one-hot
  solution at K = 1;
* the classifier: W = log(F / f_class) with bias b = log(class prior), the paper's "separate-intercept"
  formulation [reconstructed; it is multinomial naive Bayes on the features].

Add-s smoothing (F + s) replaces zero counts; the paper's handling of zeros is unknown.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from netoptima.conventions import check_choice, check_int, check_positive, check_real
from netoptima.explicit.models import AGGREGATES, check_ids

__all__ = [
    "DEFAULT_SMOOTHING", "FORMS", "SparseExplicitLM", "classifier_solution", "explicit_solution", "fit_alpha",
    "line_search", "naive_bayes_solution", "one_hot_solution", "row_centered_distance", "sparse_explicit_solution",
    "tempered_solution",
]

FORMS = ("naive_bayes", "one_hot", "tempered")
# add-s constant for the LM counts, chosen on Shakespeare's valid plays (never the test plays): over
# s ∈ {0.01, 0.03, 0.1, 0.3, 1} and K ∈ {1, 2, 4} x {sum, cat} at vocabularies 300 and 1000, s = 0.3 gave the best
# valid CE in 7 of 10 settings, within 0.05 nats in 9, and 0.12 nats worse than s = 0.03 for the 1000-word bigram
DEFAULT_SMOOTHING = 0.3


def _check_matrix(F: Tensor, name: str = "F") -> Tensor:
    if not isinstance(F, Tensor) or F.dim() != 2 or F.is_sparse:
        raise ValueError(f"{name} must be a dense 2-D tensor of counts, got "
                         f"{getattr(F, 'shape', type(F).__name__)}{' (sparse)' if getattr(F, 'is_sparse', 0) else ''}")
    return F


def _check_counts(F: Tensor, name: str = "F") -> Tensor:
    _check_matrix(F, name)
    if F.numel():
        lo, hi = (float(v) for v in torch.aminmax(F))  # one pass; NaN propagates into both
        if not (lo >= 0 and math.isfinite(hi)):
            raise ValueError(f"{name} must hold finite non-negative counts, got values in [{lo:g}, {hi:g}]")
    return F


def one_hot_solution(F: Tensor, *, smoothing: float) -> Tensor:
    """U_ij = log(F̃_ij / f̃_i), F̃ = F + s, f̃_i = Σ_j F̃_ij: the one-hot (bigram) solution (spec A.3, [V] IaMaN).

    It solves f̃_i·softmax(U_i) = F̃_i exactly, i.e. the stationarity condition XᵀŶ = XᵀY of the loss whose
    targets are the smoothed counts F̃.

    Arguments:
        F: ``(N_in, N)`` counts (context token x target).
        smoothing: add-s constant s > 0.

    Returns:
        float64 ``(N_in, N)`` log-probabilities (each row's softmax is the smoothed row distribution).
    """
    s = check_positive("smoothing", smoothing)
    Ft = _check_counts(F).double() + s  # (N_in, N)
    return Ft.log() - Ft.sum(1, keepdim=True).log()


def naive_bayes_solution(F: Tensor, *, context: float, aggregate: str = "sum", smoothing: float,
                         dtype: torch.dtype = torch.float64) -> Tensor:
    """U_ij = log F̃_ij − ((K−1)/K)·log f̃_j: the K-hot naive-Bayes form (spec A.3 form (b), reconstructed).

    Summed over the K context tokens it gives Σ_k log F̃_{c_k j} − (K−1)·log f̃_j, the multinomial naive-Bayes
    posterior numerator with the target prior ∝ f̃_j; at K = 1 it is the one-hot solution up to row constants.
    For "cat" it is applied per block k with that block's target counts f̃^{(k)}_j. The paper prints a
    two-term formula of this kind; which second term and sign it uses could not be read (spec A.3).

    Arguments:
        F: ``(dim_x, N)`` counts from :func:`~netoptima.explicit.stats.cooccurrence`, dense or sparse COO.
        context: K ≥ 1 (for general positive features use K̄ = mean ‖x‖₁; it may be fractional there).
        aggregate: ``"sum"`` or ``"cat"`` (then ``dim_x`` must be ``K·N``).
        smoothing: add-s constant s > 0; f̃_j = Σ_i F_ij + dim·s so that F̃/f̃ is a distribution.
        dtype: of the result (float32 halves the memory traffic; f̃ is always summed in float64).

    Returns:
        ``(dim_x, N)`` weights U.
    """
    s = check_positive("smoothing", smoothing)
    K = check_real("context", context, low=1.0)
    check_choice("aggregate", aggregate, AGGREGATES)
    check_choice("dtype", dtype, [torch.float32, torch.float64])
    if isinstance(F, Tensor) and F.is_sparse and F.dim() == 2:
        return _naive_bayes_from_sparse(F, K, aggregate, s, dtype)
    F = _check_counts(F)
    blocks = int(K) if aggregate == "cat" else 1
    if aggregate == "cat" and (K != int(K) or F.shape[0] != blocks * F.shape[1]):
        raise ValueError(f"for aggregate='cat' F must have shape (K·N, N) = ({int(K)}·{F.shape[1]}, "
                         f"{F.shape[1]}) with integer context K, got {tuple(F.shape)} and context={context}")
    Fb = F.view(blocks, -1, F.shape[1])  # (blocks, N_in, N)
    f = Fb.sum(1, keepdim=True, dtype=torch.float64) + Fb.shape[1] * s  # (blocks, 1, N) smoothed target counts
    U = Fb.to(dtype, copy=True).add_(s).log_()  # (blocks, N_in, N) log F̃, one pass in place
    U.sub_((((K - 1) / K) * f.log()).to(dtype))
    return U.reshape(F.shape)


def _naive_bayes_from_sparse(F: Tensor, K: float, aggregate: str, s: float, dtype: torch.dtype) -> Tensor:
    """Dense U from a sparse F: fill log s − c·log f̃_j, then add log(1 + F_ij/s) at the non-zeros.

    Same values as the dense path (log(F + s) = log s + log(1 + F/s)), but only one write pass over U and one
    log per non-zero instead of one per entry: the dense log dominates the cost at large vocabularies.
    """
    N = F.shape[1]
    blocks = int(K) if aggregate == "cat" else 1
    if F.shape[0] != blocks * N or (aggregate == "cat" and K != int(K)):
        raise ValueError(f"F must have shape ({blocks * N}, {N}) for context={K}, aggregate={aggregate!r}; "
                         f"got {tuple(F.shape)}")
    F = F.coalesce()
    idx, val = F.indices(), F.values().double()  # (2, nnz), (nnz,)
    if val.numel() and not (float(val.min()) >= 0 and math.isfinite(float(val.max()))):
        raise ValueError("F must hold finite non-negative counts")
    f = torch.zeros(blocks, N, dtype=torch.float64).index_put_((idx[0] // N, idx[1]), val, accumulate=True)
    f += N * s  # (blocks, N) smoothed target counts per block
    base = (math.log(s) - ((K - 1) / K) * f.log()).to(dtype)  # (blocks, N): the value where F_ij = 0
    U = base[:, None, :].expand(blocks, N, N).contiguous().view(blocks * N, N)  # (dim_x, N)
    U[idx[0], idx[1]] += (val / s).log1p().to(dtype)  # coalesced: every (i, j) once
    return U


def tempered_solution(F: Tensor, *, alpha: float, smoothing: float) -> Tensor:
    """U = α·log F̃: the tempered log co-occurrence (spec A.3 form (a), reconstructed; α = 1/K reads the
    paper's "proportional to the skip-gram solution").

    Arguments:
        F: ``(dim_x, N)`` counts.
        alpha: temperature α > 0 (fit it with :func:`fit_alpha`).
        smoothing: add-s constant s > 0.

    Returns:
        float64 ``(dim_x, N)`` weights U.
    """
    a = check_positive("alpha", alpha)
    s = check_positive("smoothing", smoothing)
    return a * (_check_counts(F).double() + s).log()


def explicit_solution(F: Tensor, *, context: int = 1, aggregate: str = "sum", form: str = "naive_bayes",
                      smoothing: float = DEFAULT_SMOOTHING, alpha: float = 1.0,
                      dtype: torch.dtype = torch.float64) -> Tensor:
    """The explicit solution U of the single-layer softmax LM from its co-occurrences F (spec A.3).

    Arguments:
        F: ``(dim_x, N)`` counts from :func:`~netoptima.explicit.stats.cooccurrence` with the same
            ``context`` and ``aggregate``, dense or sparse (the naive-Bayes form then skips the N² logs).
        context: context radius K ≥ 1.
        aggregate: ``"sum"`` or ``"cat"``.
        form: ``"naive_bayes"`` (default, :func:`naive_bayes_solution`), ``"one_hot"`` (K = 1 only,
            :func:`one_hot_solution`) or ``"tempered"`` (:func:`tempered_solution` with ``alpha``).
        smoothing: add-s constant s > 0.
        alpha: temperature for ``form="tempered"``.
        dtype: of the result (``"naive_bayes"`` computes in it; the others in float64, then cast).

    Returns:
        ``(dim_x, N)`` weights U (load them with ``SoftmaxLM.load_solution``).

    Raises:
        ValueError: smoothing ≤ 0, context < 1, an unknown form/aggregate, a shape that does not match.
    """
    check_positive("smoothing", smoothing)
    K = check_int("context", context, low=1)
    check_choice("aggregate", aggregate, AGGREGATES)
    check_choice("form", form, FORMS)
    if isinstance(F, Tensor) and F.is_sparse and form != "naive_bayes":
        F = F.to_dense()  # only the naive-Bayes form has a sparse path
    if not (isinstance(F, Tensor) and F.is_sparse):
        _check_matrix(F)  # the form's own function checks the values
    want = F.shape[1] * (K if aggregate == "cat" else 1)
    if F.shape[0] != want:
        raise ValueError(f"F must have shape ({want}, {F.shape[1]}) for context={K}, aggregate={aggregate!r}; "
                         f"got {tuple(F.shape)}")
    if form == "one_hot":
        if K != 1:
            raise ValueError(f"form='one_hot' is the K = 1 solution, got context={K}; use 'naive_bayes'")
        return one_hot_solution(F, smoothing=smoothing).to(dtype)
    if form == "tempered":
        return tempered_solution(F, alpha=alpha, smoothing=smoothing).to(dtype)
    return naive_bayes_solution(F, context=K, aggregate=aggregate, smoothing=smoothing, dtype=dtype)


def line_search(loss: Callable[[float], float], *, bounds: tuple[float, float] = (0.02, 2.0),
                xatol: float = 1e-3) -> tuple[float, float]:
    """Minimise a 1-D function on ``bounds`` (bounded Brent, ``scipy.optimize.minimize_scalar``).

    Returns:
        ``(x*, loss(x*))``.
    """
    from scipy.optimize import minimize_scalar

    lo = check_real("bounds[0]", bounds[0])
    hi = check_real("bounds[1]", bounds[1], low=lo, low_open=True)
    res = minimize_scalar(loss, bounds=(lo, hi), method="bounded", options={"xatol": check_positive("xatol", xatol)})
    return float(res.x), float(res.fun)


def fit_alpha(F: Tensor, loss: Callable[[Tensor], float], *, smoothing: float = DEFAULT_SMOOTHING,
              bounds: tuple[float, float] = (0.02, 2.0), xatol: float = 1e-3) -> tuple[float, float]:
    """1-D line search for the temperature α of U = α·log F̃ (ablation of spec A.3 form (a)).

    Arguments:
        F: ``(dim_x, N)`` counts.
        loss: training loss of a weight matrix U (e.g. the mean cross-entropy on the training tokens).
        smoothing: add-s constant s > 0.
        bounds: search interval for α, ``0 < low < high``.
        xatol: absolute tolerance on α.

    Returns:
        ``(alpha*, loss(alpha*))``.
    """
    check_positive("bounds[0]", bounds[0])
    logF = (_check_counts(F).double() + check_positive("smoothing", smoothing)).log()  # (dim_x, N), computed once
    return line_search(lambda a: loss(a * logF), bounds=bounds, xatol=xatol)


def classifier_solution(F: Tensor, class_counts: Tensor, *, smoothing: float = 1.0,
                        form: str = "prior") -> tuple[Tensor, Tensor]:
    """Explicit weights of the positive-feature softmax classifier (spec A.4, reconstructed).

    * ``form="prior"``: W_ic = log(F̃_ic / f̃_c), b_c = log(n_c / M): the "separate-intercept" formulation,
      i.e. multinomial naive Bayes on the feature values.
    * ``form="naive_bayes"``: W_ic = log F̃_ic − (1 − 1/K̄)·log f̃_c, b = 0, with K̄ = f_total / M the mean
      ‖x‖₁: the LM formula applied "without additional analysis".

    Arguments:
        F: ``(d, C)`` feature mass per class from :func:`~netoptima.explicit.stats.feature_label_counts`.
        class_counts: ``(C,)`` class counts n_c.
        smoothing: add-s constant s > 0 on every F_ic (f̃_c = f_c + d·s).
        form: ``"prior"`` or ``"naive_bayes"``.

    Returns:
        ``(W, b)``: float64 ``(d, C)`` and ``(C,)``.
    """
    s = check_positive("smoothing", smoothing)
    check_choice("form", form, ("prior", "naive_bayes"))
    F = _check_counts(F).double()
    n = class_counts.double()
    if n.shape != (F.shape[1],) or float(n.min()) <= 0:
        raise ValueError(f"class_counts must be ({F.shape[1]},) positive counts, got {tuple(class_counts.shape)} "
                         f"with minimum {float(n.min()) if n.numel() else 'n/a'}")
    Ft = F + s  # (d, C)
    f = Ft.sum(0)  # (C,)
    if form == "prior":
        return Ft.log() - f.log(), (n / n.sum()).log()
    k_bar = float(F.sum() / n.sum())  # mean ‖x‖₁
    if k_bar < 1:
        raise ValueError(f"form='naive_bayes' needs mean ‖x‖₁ ≥ 1 (K̄ = {k_bar:g}); use form='prior'")
    return Ft.log() - (1 - 1 / k_bar) * f.log(), torch.zeros_like(n)


def row_centered_distance(U: Tensor, V: Tensor, *, weights: Tensor | None = None,
                          reference: Tensor | None = None) -> float:
    """Relative distance ‖P(U − V)‖_w / ‖P R‖_w on the quotient by per-row constants (spec A.3, A.7.4).

    P subtracts each row's mean, so U + c·1ᵀ and U are at distance 0; rows are weighted by ``weights``
    (e.g. how often the context token occurs: rows never seen are never trained and do not count).

    Arguments:
        U, V: ``(dim_x, N)`` weights; V is the target (e.g. the explicit solution).
        weights: ``(dim_x,)`` non-negative row weights (uniform when ``None``).
        reference: R, the matrix whose norm normalises the distance (default V), so distances to two different
            targets can share one unit.

    Returns:
        The relative distance (0 means the same model on every input).
    """
    R = V if reference is None else reference
    if U.shape != V.shape or U.dim() != 2 or R.shape != U.shape:
        raise ValueError(f"U, V (and reference) must be 2-D with the same shape, got {tuple(U.shape)}, "
                         f"{tuple(V.shape)} and {tuple(R.shape)}")
    w = torch.ones(U.shape[0], dtype=torch.float64) if weights is None else weights.double()
    if w.shape != (U.shape[0],) or float(w.min()) < 0 or float(w.sum()) <= 0:
        raise ValueError(f"weights must be ({U.shape[0]},) non-negative with a positive sum")
    D = U.double() - V.double()
    D = D - D.mean(1, keepdim=True)  # (dim_x, N) row-centred difference
    Rc = R.double() - R.double().mean(1, keepdim=True)
    return math.sqrt(float((w * D.pow(2).sum(1)).sum()) / float((w * Rc.pow(2).sum(1)).sum()))


@dataclass(frozen=True)
class SparseExplicitLM:
    """The naive-Bayes explicit solution stored sparsely (for vocabularies where U (N x N) does not fit).

    U_ij = log(F_ij + s) − c·log f̃_j equals, up to the global constant log s (which no softmax sees),
    Δ_ij − c·log f̃_j with Δ = log(1 + F/s) zero wherever F is: Δ has the sparsity of F. Logits of a
    context are Σ_k Δ[row_k] − K·c·log f̃ (every x has ‖x‖₁ = K).

    Memory at N = 50,000: the dense U would take 10 GB in float32 (40 GB with Adam's state); this form
    takes ~20 bytes per non-zero of F (≤ K·M) plus 2 vectors of N floats, and a batch of B contexts
    needs B·N floats of logits.

    Attributes:
        crow, col, delta: CSR rows/columns/values of Δ, shape ``(dim_x+1,)``, ``(nnz,)``, ``(nnz,)``.
        column_term: ``(blocks, N)`` the c·log f̃_j per block.
        vocab, context, aggregate: the model they belong to.
    """

    crow: Tensor
    col: Tensor
    delta: Tensor
    column_term: Tensor
    vocab: int
    context: int
    aggregate: str

    def logits(self, contexts: Tensor) -> Tensor:
        """Logits ``(B, N)`` for ``contexts`` (B, K), equal to the dense solution's up to a per-row constant."""
        K, N = self.context, self.vocab
        if contexts.dim() != 2 or contexts.shape[1] != K:
            raise ValueError(f"contexts must have shape (batch, {K}), got {tuple(contexts.shape)}")
        contexts = check_ids("contexts", contexts, N)
        B = contexts.shape[0]
        offsets = torch.arange(K) * N if self.aggregate == "cat" else torch.zeros(K, dtype=torch.long)
        rows = (contexts + offsets).reshape(-1)  # (B·K,)
        start, length = self.crow[rows], self.crow[rows + 1] - self.crow[rows]  # (B·K,)
        total = int(length.sum())
        # flat positions of every stored entry of every requested row, without a Python loop
        first = torch.repeat_interleave(start - (torch.cumsum(length, 0) - length), length)  # (total,)
        pos = first + torch.arange(total)
        batch = torch.repeat_interleave(torch.arange(B).repeat_interleave(K), length)  # (total,)
        term = self.column_term.sum(0) if self.aggregate == "cat" else K * self.column_term[0]  # (N,)
        out = (-term).to(self.delta.dtype).expand(B, N).clone()  # (B, N)
        out.index_put_((batch, self.col[pos]), self.delta[pos], accumulate=True)
        return out


def sparse_explicit_solution(F: Tensor, *, context: int, aggregate: str = "sum",
                             smoothing: float = DEFAULT_SMOOTHING) -> SparseExplicitLM:
    """The naive-Bayes solution (:func:`naive_bayes_solution`) from a sparse F, without densifying.

    Arguments:
        F: sparse COO ``(dim_x, N)`` counts (``cooccurrence(..., sparse=True)``).
        context: K ≥ 1.
        aggregate: ``"sum"`` or ``"cat"``.
        smoothing: add-s constant s > 0.

    Returns:
        :class:`SparseExplicitLM` (float32 values).
    """
    s = check_positive("smoothing", smoothing)
    K = check_int("context", context, low=1)
    check_choice("aggregate", aggregate, AGGREGATES)
    if not isinstance(F, Tensor) or not F.is_sparse or F.dim() != 2:
        raise ValueError("F must be a 2-D sparse COO tensor (use cooccurrence(..., sparse=True))")
    N = F.shape[1]
    blocks = K if aggregate == "cat" else 1
    if F.shape[0] != blocks * N:
        raise ValueError(f"F must have shape ({blocks * N}, {N}) for context={K}, aggregate={aggregate!r}; "
                         f"got {tuple(F.shape)}")
    F = F.coalesce()
    idx, val = F.indices(), F.values().double()
    if val.numel() and float(val.min()) < 0:
        raise ValueError("F must hold non-negative counts")
    # smoothed target counts per block: column sums + s for every one of the N context rows of the block
    f = torch.zeros(blocks, N, dtype=torch.float64).index_put_((idx[0] // N, idx[1]), val, accumulate=True) + N * s
    column_term = ((K - 1) / K) * f.log()  # (blocks, N)
    # a coalesced COO tensor is sorted by (row, column): its CSR row pointers are one searchsorted away
    crow = torch.searchsorted(idx[0].contiguous(), torch.arange(F.shape[0] + 1))  # (dim_x + 1,)
    return SparseExplicitLM(crow, idx[1].clone(), (val / s).log1p().float(), column_term.float(), N, K, aggregate)
