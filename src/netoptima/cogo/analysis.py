"""Reading trained nets: per-frequency solution orders and the factorisation into known constructions.

Ports of the official analysis (spec §5): ``sol_distri.py`` counts the order #{j : |A[k,j]| > 0.05} of each
frequency (Fig. 4) and ``factorize_sol.py`` splits each order-4/6 block into an order-2 and an order-q/2 factor
and names them (Tbl. 2, Fig. 5). Thresholds are the code's: 0.05 for live nodes, 0.1 for classification,
0.1·√(3q) for "non-factorable".
"""

from __future__ import annotations

import cmath
import itertools
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import Tensor

from netoptima.cogo.constructions import OMEGA3
from netoptima.cogo.fourier import fourier_weights
from netoptima.cogo.groups import Group, character_pairs, check_group, group_fourier_weights
from netoptima.cogo.model import QuadraticNet, Weights, check_odd_modulus
from netoptima.conventions import check_real

__all__ = [
    "CONSTRUCTIONS",
    "check_component",
    "factorize",
    "factorize_block",
    "factorization_summary",
    "ols_slope",
    "PAIRINGS",
    "pct",
    "table2_row",
    "solution_orders",
]

# (order-2 class, order-q/2 class) -> construction name; the Tbl. 2 columns they count in
CONSTRUCTIONS: dict[tuple[str, str], str] = {
    ("order-2-4c", "order-2-xi"): "z_nu(i)*z_xi",
    ("order-2-nu", "order-3-syn"): "z_nu*z_syn",
    ("order-2-4c", "order-3-syn"): "z_nu(i)*z_syn",
    ("order-2-4c", "order-3-syn-ab"): "z_nu(i)*z_syn_ab",
}


def _fourier_view(model: QuadraticNet | Weights, G: Group | None) -> tuple[Tensor, Tensor, Tensor, list[int]]:
    """(A, B, C) and the labels of the non-trivial frequencies, one per pair {k, −k}: 1..(d−1)/2 of Z_d when ``G``
    is None or an int (the cyclic FFT), :func:`character_pairs` of G over G's characters for a tuple of orders."""
    if G is None or (isinstance(G, (int, np.integer)) and not isinstance(G, bool)):
        A, B, C = fourier_weights(model)
        d = A.shape[-2]
        if G is not None and check_group(G)[0] != d:
            raise ValueError(f"G must be the weights' modulus {d}, got {G}")
        return A, B, C, list(range(1, (d - 1) // 2 + 1))
    group = check_group(G, odd=True)
    A, B, C = group_fourier_weights(model, group)
    return A, B, C, character_pairs(group)


def solution_orders(model: QuadraticNet | Weights, thres: float = 0.05, *, G: Group | None = None) -> Tensor:
    """Order of each frequency, #{j : |A[k, j]| > thres} for k = 1..(d−1)/2 (``sol_distri.py``, Fig. 4).

    Arguments:
        model: a :class:`QuadraticNet` or weights ``(W_a, W_b, W_c)`` (a leading seed axis is allowed).
        thres: the live-node threshold on |A[k, j]| (the code's 0.05; A carries the 1/d of spec §2).
        G: the group: None or an int d (cyclic, the weights' modulus), or odd orders (d1, …, dk): then the order
            of each pair of characters {k, −k} of G, in the order of :func:`netoptima.cogo.groups.character_pairs`.

    Returns:
        int64 tensor ``(…, (|G|−1)/2)``.
    """
    thres = check_real("thres", thres, low=0.0)
    A, _, _, reps = _fourier_view(model, G)
    if G is None or isinstance(G, (int, np.integer)):
        return (A[..., 1:len(reps) + 1, :].abs() > thres).sum(-1)
    return (A[..., reps, :].abs() > thres).sum(-1)


@lru_cache(maxsize=4)
def _perms(q: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(q))))  # (q!, q)


def _cbrt_normalize(comp: np.ndarray) -> np.ndarray:
    """Divide each column by the principal cube root of its product, so a·b·c = 1 per column."""
    return comp / np.power(comp.prod(axis=0, keepdims=True), 1.0 / 3.0)


def check_component(comp: np.ndarray, *, thres: float = 0.1) -> tuple[str, tuple[complex, ...] | None]:
    """Name an order-2 or order-3 factor (rows a, b, c; first column 1), ``factorize_sol.check_component``.

    The official code also tests a·b·c ≈ 1 per column ("unnormalized"); after the cube-root normalisation
    that test can never fail, so it is left out.

    Returns:
        ``(class, parameters)``: order 2 → "order-2-xi" (ξ), "order-2-4c" (ν = ±i), "order-2-nu" (ν),
        "order-2-unknown"; order 3 → "order-3-syn", "order-3-syn-ab" (α, β), "order-3-unknown".
    """
    A = _cbrt_normalize(np.array(comp, dtype=np.complex128))
    if A.shape == (3, 2):
        if abs(A[2, 1] - 1j) < thres or abs(A[2, 1] + 1j) < thres:
            return "order-2-xi", (complex(A[0, 1]),)
        if abs(A[2, 1] - 1) < thres and (abs(A[0, 1] - 1j) < thres or abs(A[0, 1] + 1j) < thres):
            return "order-2-4c", (complex(A[0, 1]),)
        if abs(A[0, 1] + A[1, 1]) < thres:
            return "order-2-nu", (complex(A[0, 1]),)
        return "order-2-unknown", None
    if A.shape == (3, 3):
        for i in (1, 2):  # remove the (−1, −1, 1) gauge of σ(h) = h² from each column
            if A[0, i].real > 0:
                A[:2, i] *= -1
        if A[2, 1].imag < 0:
            A = A.conj()
        w = np.full(3, OMEGA3)
        if (np.linalg.norm(A[:, 1] - w) < thres * math.sqrt(3)
                and np.linalg.norm(A[:, 2] - w.conj()) < thres * math.sqrt(3)):
            return "order-3-syn", (1.0 + 0j, 1.0 + 0j)
        if abs(A[2, 1] - OMEGA3) < thres and abs(A[2, 2] - OMEGA3.conjugate()) < thres:
            # α, β of z_syn,αβ = {a = (1, α, β), c = (1, ω3, ω3²)} after the same gauge fixing
            return "order-3-syn-ab", (complex(A[0, 1]), complex(A[0, 2]))
        return "order-3-unknown", None
    raise ValueError(f"check_component handles (3, 2) and (3, 3) factors, got shape {A.shape}")


def _flip_gauge(F: np.ndarray, h: int) -> np.ndarray:
    """Flip (a, b) of the first-half columns where a[h:]/a[:h] deviates by > 0.2 from its first entry (in place)."""
    test = F[0, h:] / F[0, :h]
    flip = np.nonzero(np.abs(test - test[0]) > 0.2)[0]
    F[:2, flip] *= -1
    return F


PAIRINGS = ("c", "abc")


def factorize_block(F: np.ndarray, *, pairing: str = "c") -> dict[str, Any]:
    """Factor one order-4/6 block F = [a; b; c] (3×q) as order-2 ⊗ order-q/2 (``analyze_component_v2``).

    Steps of the official code: pick the node permutation for which c[:q/2]/c[q/2:] is most constant;
    flip (a, b) of the columns where a[q/2:]/a[:q/2] deviates by > 0.2 from its first entry; factor 1 =
    [1, mean ratio] per row, factor 2 = first half / its first column; non-factorable if the ratio's
    deviation exceeds 0.1·√(3q).

    Arguments:
        F: the block, shape (3, 4) or (3, 6).
        pairing: ``"c"`` chooses the node pairing from the c-ratio alone (the official code, the paper's
            statistic); ``"abc"`` chooses the permutation whose ratio is most constant over all three rows after
            the gauge flip (spec §9: a labelled deviation; the c-ratio alone ties for z_{ν=i} * z_syn,αβ).
    """
    F = np.array(F, dtype=np.complex128)
    q = F.shape[1]
    if F.shape[0] != 3 or q not in (4, 6):
        raise ValueError(f"factorize_block needs a (3, 4) or (3, 6) block, got shape {F.shape}")
    if pairing not in PAIRINGS:
        raise ValueError(f"pairing must be one of {PAIRINGS}, got {pairing!r}")
    h = q // 2
    P = _perms(q)  # (q!, q)
    if pairing == "c":
        c = F[2][P]  # (q!, q)
        ratio = c[:, :h] / c[:, h:]  # (q!, q/2)
        errs = np.linalg.norm(ratio - ratio.mean(1, keepdims=True), axis=1)
    else:
        Fp = F[:, P].transpose(1, 0, 2).copy()  # (q!, 3, q)
        test = Fp[:, 0, h:] / Fp[:, 0, :h]  # (q!, q/2)
        sign = np.where(np.abs(test - test[:, :1]) > 0.2, -1.0, 1.0)  # (q!, q/2)
        Fp[:, :2, :h] *= sign[:, None, :]
        ratio = Fp[:, :, h:] / Fp[:, :, :h]  # (q!, 3, q/2)
        errs = np.linalg.norm((ratio - ratio.mean(2, keepdims=True)).reshape(len(P), -1), axis=1)
    F = _flip_gauge(F[:, P[int(np.argmin(errs))]], h)
    sec1, sec2 = F[:, :h], F[:, h:]
    ratio = sec2 / sec1  # (3, q/2)
    err = float(np.linalg.norm(ratio - ratio.mean(1, keepdims=True)))
    comp1 = np.stack([np.ones(3, dtype=np.complex128), ratio.mean(1)], axis=1)  # (3, 2)
    comp2 = sec1 / sec1[:, :1]  # (3, q/2)
    res1, par1 = check_component(comp1)
    res2, par2 = check_component(comp2)
    if res1 > res2:
        (res1, par1), (res2, par2) = (res2, par2), (res1, par1)
    factorable = err <= 0.1 * math.sqrt(3 * q)
    name = CONSTRUCTIONS.get((res1, res2), "other") if factorable else "non-factorable"
    row: dict[str, Any] = {"err": err, "factorable": factorable, "classes": [res1, res2], "construction": name,
                           "nu_angle": None, "xi_angle": None, "alpha_angle": None, "beta_angle": None}
    if factorable:
        if res2 == "order-2-xi":
            row["xi_angle"] = cmath.phase(par2[0])  # type: ignore[index]
        if res1 in ("order-2-nu", "order-2-4c") and par1 is not None:
            row["nu_angle"] = cmath.phase(par1[0])
        if res2 == "order-3-syn-ab":
            row["alpha_angle"], row["beta_angle"] = (cmath.phase(x) for x in par2)  # type: ignore[union-attr]
    return row


def factorize(model: QuadraticNet | Weights, *, thres: float = 0.05, pairing: str = "c",
              G: Group | None = None) -> list[dict[str, Any]]:
    """Per-frequency factorisation table of a trained net (``factorize_sol.analyze_solution``; Tbl. 2).

    Each node goes to its best frequency argmax_{k ∈ [0, (d−1)/2]} |A[k, j]| if that exceeds ``thres``; a
    frequency with exactly 4 or 6 nodes is factored by :func:`factorize_block`.

    Arguments:
        model: a :class:`QuadraticNet` or unbatched weights ``(W_a (q, d), W_b, W_c (d, q))`` with odd d.
        thres: live-node threshold on |A[k, j]|.
        pairing: node pairing of :func:`factorize_block` (``"c"``: the official code's).
        G: the group: None or an int d (cyclic), or odd orders (d1, …, dk): the net is read in G's character
            basis, one block per pair {χ_k, conj χ_k} (label k = :func:`netoptima.cogo.groups.character_pairs`)
            as k and −k are in the cyclic case; each row then also holds ``character`` (k's components).

    Returns:
        One dict per k = 1..(d−1)/2 (per character pair over G): ``k``, ``nodes`` (assigned), ``order``
        (#{|A[k,j]| > thres}),
        ``construction`` ("z_nu(i)*z_xi", "z_nu*z_syn", "z_nu(i)*z_syn", "z_nu(i)*z_syn_ab", "other",
        "non-factorable" or "order n" when n ∉ {4, 6}), ``matched`` (a known construction), ``err``,
        ``factorable``, ``classes`` and the fitted ``nu_angle``, ``xi_angle``, ``alpha_angle``, ``beta_angle``
        (radians, None when not applicable).
    """
    thres = check_real("thres", thres, low=0.0)
    A, B, C, reps = _fourier_view(model, G)
    if A.ndim != 2:
        raise ValueError(f"factorize takes one net; got weights with a leading axis of {A.shape[0]} seeds")
    cyclic = G is None or isinstance(G, (int, np.integer))
    if cyclic:
        check_odd_modulus(A.shape[0])
    labels = [0, *reps]  # the cyclic case: 0..(d−1)/2
    best_max, best_i = A[labels].abs().max(dim=0)  # (q,), (q,)
    best = torch.as_tensor(labels)[best_i]  # (q,): each node's frequency label
    live = best_max > thres
    orders = (A[reps].abs() > thres).sum(-1)  # (K,)
    coords = None if cyclic else np.unravel_index(reps, check_group(G))  # type: ignore[arg-type]
    rows = []
    for i, k in enumerate(reps):
        idx = torch.nonzero(live & (best == k)).flatten()
        row: dict[str, Any] = {"k": k, "nodes": int(idx.numel()), "order": int(orders[i])}
        if coords is not None:
            row["character"] = [int(c[i]) for c in coords]
        if idx.numel() in (4, 6):
            F = torch.stack([A[k, idx], B[k, idx], C[k, idx]]).numpy()  # (3, q_k)
            row.update(factorize_block(F, pairing=pairing))
        else:
            row.update({"err": None, "factorable": None, "classes": None, "construction": f"order {idx.numel()}",
                        "nu_angle": None, "xi_angle": None, "alpha_angle": None, "beta_angle": None})
        row["matched"] = row["construction"] in CONSTRUCTIONS.values()
        rows.append(row)
    return rows


def factorization_summary(tables: Sequence[Sequence[dict[str, Any]]]) -> dict[str, Any]:
    """Tbl. 2 of the paper from several nets' :func:`factorize` tables, plus the overall match fraction.

    Per net (as ``factorize_sol.py``): err_4/err_6 (mean factorisation error), nonfact_4/nonfact_6 (fraction
    of order-4/6 blocks that do not factor), sol_4_4cxi, sol_6_nusyn, sol_6_4csynab (z_{ν=i} * z_syn[,αβ]),
    sol_others (fractions of factorable blocks), non_46 (frequencies of order neither 4 nor 6). Each is
    reported as mean and standard error over nets. ``match`` is the fraction of *all* frequencies whose
    block factors into a known construction (the "~95%" of the abstract), with its standard error over nets.
    """
    per: dict[str, list[float]] = {k: [] for k in ("err_4", "err_6", "nonfact_4", "nonfact_6", "sol_4_4cxi",
                                                   "sol_6_nusyn", "sol_6_4csynab", "sol_others", "non_46",
                                                   "match")}
    keys = ("nodes", "factorable", "err", "construction")
    for rows in tables:
        for r in rows:
            if not isinstance(r, dict) or any(k not in r for k in keys):
                raise ValueError(f"tables must hold factorize() rows with keys {keys}; got {r!r:.120}")
        b4 = [r for r in rows if r["nodes"] == 4]
        b6 = [r for r in rows if r["nodes"] == 6]
        f4 = [r for r in b4 if r["factorable"]]
        f6 = [r for r in b6 if r["factorable"]]
        nf = len(f4) + len(f6)
        per["err_4"].append(float(np.mean([r["err"] for r in f4])) if f4 else math.nan)
        per["err_6"].append(float(np.mean([r["err"] for r in f6])) if f6 else math.nan)
        per["nonfact_4"].append((len(b4) - len(f4)) / len(b4) if b4 else math.nan)
        per["nonfact_6"].append((len(b6) - len(f6)) / len(b6) if b6 else math.nan)
        n4c = sum(r["construction"] == "z_nu(i)*z_xi" for r in f4)
        n6a = sum(r["construction"] == "z_nu*z_syn" for r in f6)
        n6b = sum(r["construction"] in ("z_nu(i)*z_syn", "z_nu(i)*z_syn_ab") for r in f6)
        per["sol_4_4cxi"].append(n4c / nf if nf else math.nan)
        per["sol_6_nusyn"].append(n6a / nf if nf else math.nan)
        per["sol_6_4csynab"].append(n6b / nf if nf else math.nan)
        per["sol_others"].append((nf - n4c - n6a - n6b) / nf if nf else math.nan)
        per["non_46"].append(float(len(rows) - len(b4) - len(b6)))
        per["match"].append(sum(r["matched"] for r in rows) / len(rows) if rows else math.nan)
    out: dict[str, Any] = {"nets": len(per["match"])}
    for k, vals in per.items():
        v = np.array([x for x in vals if not math.isnan(x)])
        out[k] = float(v.mean()) if v.size else math.nan
        out[f"{k}_sem"] = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
    out["factorable_blocks"] = sum(1 for rows in tables for r in rows if r["nodes"] in (4, 6) and r["factorable"])
    out["nonfact_blocks"] = sum(1 for rows in tables for r in rows if r["nodes"] in (4, 6) and not r["factorable"])
    out["non_46_total"] = sum(1 for rows in tables for r in rows if r["nodes"] not in (4, 6))
    n_freq = sum(len(rows) for rows in tables)
    n_match = sum(sum(r["matched"] for r in rows) for rows in tables)
    out["frequencies"], out["matched"] = n_freq, n_match
    # the pooled fraction and its binomial standard error (frequencies as the units)
    p = n_match / n_freq if n_freq else math.nan
    out["match_pooled"] = p
    out["match_pooled_sem"] = math.sqrt(p * (1 - p) / n_freq) if n_freq else math.nan
    return out


def table2_row(nets: Sequence[dict[str, Any]], key: str = "table") -> dict[str, Any]:
    """One Tbl. 2 row from nets' :func:`factorize` tables (``net[key]``) at one checkpoint.

    ``p`` = 1 − sol_others (the paper's statistic: share of the factorable order-4/6 blocks that are a named
    construction, mean over nets) with its SEM, the counts ``factorable``, ``non_46`` (frequencies of other order)
    and ``nonfact`` (non-factorable 4/6 blocks), the sub-type columns, and ``strict``: the pooled share of *all*
    frequencies that match (a stricter figure).
    """
    sm = factorization_summary([n[key] for n in nets])
    return {"nets": len(nets), "p": 1 - sm["sol_others"], "sem": sm["sol_others_sem"],
            "factorable": sm["factorable_blocks"], "non_46": sm["non_46_total"], "nonfact": sm["nonfact_blocks"],
            "sol_4_4cxi": sm["sol_4_4cxi"], "sol_6_nusyn": sm["sol_6_nusyn"], "sol_6_4csynab": sm["sol_6_4csynab"],
            "err_4": sm["err_4"], "err_6": sm["err_6"], "strict": sm["match_pooled"], "frequencies": sm["frequencies"]}


def pct(x: float, sem: float | None = None) -> str:
    """``x`` as a percentage with one decimal (and ``± sem``); "n/a" for nan."""
    if math.isnan(x):
        return "n/a"
    return f"{100 * x:.1f}%" + ("" if sem is None or math.isnan(sem) else f" ± {100 * sem:.1f}")


def ols_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of y on x and its standard error (nan with fewer than 3 points)."""
    A = np.stack([x, np.ones_like(x)], axis=1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    if len(x) < 3:
        return float(coef[0]), math.nan
    r = y - A @ coef
    cov = (r @ r) / (len(x) - 2) * np.linalg.inv(A.T @ A)
    return float(coef[0]), float(math.sqrt(max(cov[0, 0], 0.0)))
