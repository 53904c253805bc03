"""The CoGO claims read on Tbl. 2's statistic: cogo.match_rate (cyclic groups, one row per d) and cogo.abelian
(gradient-descent solutions on non-cyclic Abelian groups, one row per group; constructed optimisers as a sanity check).

Registered from :mod:`netoptima.cogo.claims` (imported at its end, so its ``Training`` base and helpers exist here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from netoptima.claims import Judgement, Settings, claim
from netoptima.cogo import paper
from netoptima.cogo.analysis import pct, table2_row
from netoptima.cogo.claims import _PAPER, _SMALL, _SMOKE, _TINY, Training, _paper_setup, _unfit
from netoptima.cogo.experiments import abelian_claim_run, match_rate_run
from netoptima.cogo.plots import plot_match_rate


@dataclass(frozen=True, kw_only=True)
class MatchRate(Training):
    wd: float
    # the convergence check: the same nets continued to wd × epochs ≈ 1 (spec §9: the d = 23 rate tracks wd × epochs,
    # 84% at 0.5, 97% at 1.0); reported beside the paper's checkpoint, never instead of it
    converge_epochs: int
    converge_ds: tuple[int, ...]
    # ±2 standard errors of a binomial proportion at the paper's value, SE = √(0.95·0.05/n) over the n factorable
    # order-4/6 blocks of a row: 2 SE = ±5.9% for 55 blocks (d = 23, 5 seeds), ±3.3% for 175 (d = 71). Symmetric: a
    # rate far above 95% disagrees with Tbl. 2's non-matching blocks as much as one far below.
    z: float = 2.0
    # below the band but ≥ 0.6: most blocks still match (spec §9: the rate grows with wd × epochs, 44% at 0.2, 84% at
    # 0.5), so the mechanism shows and the number does not; a run without weight decay gives 0%
    partly_floor: float = 0.6


@dataclass(frozen=True, kw_only=True)
class Abelian(Settings):
    """GD on non-cyclic groups read like Tbl. 2, and the constructions lifted to G (a sanity check)."""

    groups: tuple[tuple[int, ...], ...]  # the groups GD trains on, one row each (odd orders, data: abelian_task)
    built: tuple[tuple[int, ...], ...]  # groups whose constructed optimisers must reach loss < built_tol
    width: int
    wd: float
    # the judged checkpoint: wd × epochs = 1, where the cyclic d = 23 rate has converged (spec §9: 84% at wd × epochs
    # 0.5, 97% at 1.0; measured on (5, 5): 84.4% at 9900, 96.7% at 15k, 98.3% at 20k); the paper reads epoch 9900
    epochs: int
    paper_epoch: int  # the paper's checkpoint (Tbl. 2), reported beside the judged one, never deciding
    seed_batches: tuple[tuple[int, ...], ...]
    lr: float = paper.PAPER_LR
    test_size: float = paper.PAPER_TEST_SIZE
    min_train_acc: float = 1.0  # sanity check as in Training: a net that does not fit is no global optimiser
    # float64 constructions reach ~1e-31 (groups.py); 1e-20 leaves 11 orders of magnitude for round-off while any
    # wrong block leaves a loss of order 1/|G| (an order-4 block without its R_n compensation: ℓ_k = 1/6)
    built_tol: float = 1e-20
    # the band of cogo.match_rate at ~95% (the paper has no non-cyclic number; ~95% is its cyclic Tbl. 2 figure):
    # ±z binomial SE over the n factorable blocks, ±5.6% for 60 blocks (5 seeds × 12 pairs of (5, 5)); symmetric,
    # its upper edge passes 100% below n = 77 blocks
    z: float = 2.0
    partly_floor: float = 0.6  # as cogo.match_rate: most blocks still match, the number does not
    # the paper's statistic counts only factorable order-4/6 blocks; it speaks for the net only where they are most
    # of its frequencies: ≥ 80% as cogo.orders' "concentrates on 4 and 6" (below: at most partly), ≥ 50% for
    # partly (a GD world outside the catalogue, e.g. random or memorising nets, has none and cannot pass)
    min_cover: float = 0.8
    partly_cover: float = 0.5


_T2 = dict(wd=paper.TABLE2_WD, converge_epochs=paper.CONVERGE_EPOCHS, converge_ds=(23,))
MATCH_RATE = {
    "smoke": MatchRate(**_SMOKE, wd=5e-4, converge_epochs=2000, converge_ds=(11,),
                       deviation=f"{_TINY}, wd 5e-4: not a Tbl. 2 setup"),
    "small": MatchRate(**{**_SMALL, "ds": (23, 71), "seed_batches": ((1, 2, 3), (4, 5))}, **_T2,
                       deviation="rows d = 23 and 71 of Tbl. 2 (d = 127 needs --scale paper)"),
    "paper": MatchRate(**_PAPER, **_T2),
}
_BUILT = ((3, 3), (3, 5), (3, 3, 3), (5, 5))
_G = dict(width=paper.TABLE2_WIDTH, wd=paper.TABLE2_WD, epochs=paper.CONVERGE_EPOCHS, paper_epoch=paper.TABLE2_EPOCH,
          built=_BUILT)
ABELIAN = {
    "smoke": Abelian(groups=((5, 5),), built=((3, 3), (5, 5)), width=128, wd=5e-4, epochs=2000, paper_epoch=1500,
                     seed_batches=((1, 2),), deviation="G = Z_5 × Z_5, q = 128, wd 5e-4, 2000 epochs, 2 seeds"),
    "small": Abelian(**_G, groups=((5, 5), (3, 3, 3)), seed_batches=((1, 2, 3, 4, 5),),
                     deviation="G = Z_5² and Z_3³ (|G| = 25, 27; the paper trains cyclic groups only), judged at "
                               "20k epochs (wd × epochs = 1), the paper's epoch 9900 beside"),
    "paper": Abelian(**_G, groups=((5, 5), (3, 3, 3), (7, 7)), seed_batches=tuple((s,) for s in paper.TABLE2_SEEDS),
                     deviation="non-cyclic groups: no paper setup; judged at 20k epochs (wd × epochs = 1)"),
}


def _band(nets: list[dict[str, Any]], z: float, key: str = "table") -> tuple[dict[str, Any], float]:
    """A Tbl. 2 row and its half-band z·√(p0(1−p0)/n) at the paper's p0 over the row's n factorable blocks."""
    row = table2_row(nets, key)
    p0 = paper.MATCH_RATE
    return row, (z * math.sqrt(p0 * (1 - p0) / row["factorable"]) if row["factorable"] else 0.0)


def _order3_pairs(G: tuple[int, ...]) -> int:
    """Pairs {k, −k} of characters of G of order 3 (3k = 0): (#{k : 3k_i ≡ 0 mod d_i ∀i} − 1) / 2."""
    return (math.prod(3 if d % 3 == 0 else 1 for d in G) - 1) // 2


def _combine(verdicts: list[str]) -> str:
    """reproduced iff every row is, not reproduced iff every row is, partly otherwise."""
    return ("reproduced" if all(v == "reproduced" for v in verdicts) else
            "not reproduced" if all(v == "not reproduced" for v in verdicts) else "partly")


@claim(id="cogo.match_rate", paper=paper.PAPER,
       statement="about 95% of the global optimisers reached by gradient descent match one of the algebraic "
                 "constructions (z_{ν=i} * z_ξ of order 4, z_ν * z_syn and z_{ν=i} * z_syn,αβ of order 6)",
       paper_value=paper.MATCH_STATEMENT, settings=MATCH_RATE, run=match_rate_run, plot=plot_match_rate,
       budget={"smoke": "3 s", "small": "d = 23: 5 nets to 20k epochs (4 min wall), d = 71: 5 nets to 9900 epochs "
                                        "(24 min wall), both measured on a shared 2-core machine at load ≈ 6",
               "paper": "15 nets at d = 23, 71, 127 (+ d = 23 continued to 20k): ≈ 2 h on one CPU core"})
def judge_match_rate(data: dict[str, Any], s: MatchRate) -> Judgement:
    p0 = paper.MATCH_RATE
    rule = (f"per row d (Tbl. 2, epoch {s.epochs}): p = mean over seeds of the share of factorable order-4/6 blocks "
            f"that are a named construction (factorize_sol.py, official c-ratio pairing); a row is reproduced iff "
            f"|p − {p0:.0%}| ≤ {s.z:g}·SE, SE = √(p0(1−p0)/n) over its n factorable blocks, and every net fits its "
            f"training pairs, partly iff p ≥ {s.partly_floor:.0%} (or a net does not fit), else not reproduced; the "
            "claim is reproduced iff every row is, not reproduced iff every row is not, partly otherwise. The "
            "all-frequency rate, the convergence check and the all-row pairing are reported, never decide")
    runs = [r for r in data.get("runs", []) if "checkpoints" in r]
    if not runs:
        return Judgement("not run", "-", rule, "no training run of this protocol finished")
    cp, cv = str(s.epochs), str(s.converge_epochs)
    rows, cols, verdicts, conv, dev, unfit_all = [], [], [], [], [], []
    for d in sorted({r["d"] for r in runs}):
        nets = [n for r in runs if r["d"] == d for n in r["checkpoints"].get(cp, [])]
        if not nets:
            continue
        row, band = _band(nets, s.z)
        unfit = _unfit([{**n, "d": d, "weight_decay": s.wd} for n in nets], s)
        unfit_all += unfit
        v = ("reproduced" if row["factorable"] and abs(row["p"] - p0) <= band and not unfit else
             "partly" if row["factorable"] and row["p"] >= s.partly_floor else "not reproduced")
        verdicts.append(v)
        rows.append(f"d={d}: {pct(row['p'], row['sem'])} of {row['factorable']} factorable blocks "
                    f"({row['nets']} seeds; {row['non_46']} other-order, {row['nonfact']} non-factorable; band "
                    f"{pct(max(p0 - band, 0))}–{pct(min(p0 + band, 1))}) [{v}]; all-frequency rate "
                    f"{pct(row['strict'])} of {row['frequencies']}")
        cols.append(f"d={d}: sol_4_4cxi {pct(row['sol_4_4cxi'])}, sol_6_nusyn {pct(row['sol_6_nusyn'])}, "
                    f"sol_6_4csynab {pct(row['sol_6_4csynab'])}, err_4 {row['err_4']:.3f}, err_6 {row['err_6']:.3f}"
                    + (" (a second-hand note on the paper, unverified: sol_4_4cxi {:.1f}%, sol_6_nusyn {:.1f}%)".format(
                        *paper.TABLE2_NOTE[d]) if d in paper.TABLE2_NOTE else ""))
        dev.append(f"d={d}: {pct(table2_row(nets, 'table_abc')['p'])}")
        conv_nets = [n for r in runs if r["d"] == d for n in r["checkpoints"].get(cv, [])] if cv != cp else []
        if conv_nets:
            c = table2_row(conv_nets)
            conv.append(f"d={d}: {pct(c['p'], c['sem'])} (all-frequency {pct(c['strict'])})")
    if not rows:
        return Judgement("not run", "-", rule, f"no net reached epoch {s.epochs}")
    verdict = _combine(verdicts)
    detail = (f"q={s.width}, wd {s.wd:g}, Adam lr {s.lr:g}, epoch-{s.epochs} checkpoint; columns (mean over seeds): "
              + "; ".join(cols)
              + (f". Convergence check (same nets continued to epoch {s.converge_epochs}, wd × epochs = "
                 f"{s.wd * s.converge_epochs:.2g}; not the paper's protocol): " + "; ".join(conv) if conv else "")
              + ". Deviation, not the paper's statistic: node pairing chosen on all rows (a, b, c) instead of c "
              "alone (spec §9): " + "; ".join(dev)
              + (f"; nets that do not fit: {', '.join(unfit_all)}" if unfit_all else ""))
    if not _paper_setup(s, (s.wd,)) or s.wd != paper.TABLE2_WD:
        paper_says = (f"the paper has no number for this setup ({s.deviation}); ~95% is Tbl. 2's (d = 23, 71, 127, "
                      "q = 512, wd = 5e-5, epoch 9900): compared indicatively, the paper's number needs --scale paper")
    else:
        paper_says = ("~95% over Tbl. 2's rows d = 23, 71, 127 (q = 512, wd = 5e-5, epoch 9900, seeds 1–5); the per-d "
                      "values were not retrieved, so each row is compared with ~95%"
                      + ("" if set(s.ds) == set(paper.PAPER_DS) else "; d = 127 needs --scale paper"))
    return Judgement(verdict, "; ".join(rows), rule, detail, paper_says)


@claim(id="cogo.abelian", paper=paper.PAPER,
       statement="the algebraic constructions are global optimisers for reasoning tasks in Abelian groups, and "
                 "the solutions gradient descent reaches match them (beyond modular addition: G = Z_d1 × … × Z_dk)",
       paper_value=paper.ABELIAN_STATEMENT, settings=ABELIAN, run=abelian_claim_run, plot=plot_match_rate,
       budget={"smoke": "5 s", "small": "5 nets on Z_5², 5 on Z_3³, to 20k epochs: 2.0 CPU-min on one core "
                                        "(measured, --workers 1; 18 min wall at load ≈ 10)",
               "paper": "+ 5 nets on Z_7² to 20k epochs: ≈ 6–12 min on one core (estimated from "
                        "the |G|³ cost per seed-epoch, not measured)"})
def judge_abelian(data: dict[str, Any], s: Abelian) -> Judgement:
    p0 = paper.MATCH_RATE
    rule = (f"per group G (GD, q = {s.width}, wd {s.wd:g}, epoch {s.epochs}): p = mean over seeds of the share of "
            f"factorable order-4/6 blocks over G's character pairs that are a named construction (Tbl. 2's "
            f"statistic, official pairing); a row is reproduced iff |p − {p0:.0%}| ≤ {s.z:g}·SE (SE = √(p0(1−p0)/n), "
            f"n factorable blocks), they are ≥ {s.min_cover:.0%} of the character pairs and every net fits; partly iff "
            f"p ≥ {s.partly_floor:.0%} and they are ≥ {s.partly_cover:.0%} (or a net does not fit); else not "
            "reproduced; reproduced iff every row is, not reproduced iff every row is, partly otherwise. Sanity check, "
            f"never a reason for reproduced: every construction lifted to G reaches loss < {s.built_tol:g} (else at "
            "most partly)")
    built, runs = data.get("built", []), [r for r in data.get("runs", []) if "checkpoints" in r]
    if not runs:
        return Judgement("not run", "-", rule, "no training run on a group finished")
    bad = [f"{tuple(b['group'])} {name}: {loss:.1e}" for b in built for name, loss in b["losses"].items()
           if not loss < s.built_tol]
    worst = max((loss for b in built for loss in b["losses"].values()), default=math.nan)
    cp, c0 = str(s.epochs), str(s.paper_epoch)
    rows, side, verdicts, unfit_all = [], [], [], []
    for G in sorted({tuple(r["group"]) for r in runs}):
        nets = [n for r in runs if tuple(r["group"]) == G for n in r["checkpoints"].get(cp, [])]
        if not nets:
            continue
        row, band = _band(nets, s.z)
        cover = row["factorable"] / row["frequencies"] if row["frequencies"] else 0.0
        unfit = [f"G={G} seed {n['seed']} (train acc {n['train_acc']:.3f})" for n in nets
                 if n["train_acc"] < s.min_train_acc]
        unfit_all += unfit
        in_band = row["factorable"] > 0 and abs(row["p"] - p0) <= band and cover >= s.min_cover
        v = ("reproduced" if in_band and not unfit and not bad else
             "partly" if in_band or (row["factorable"] and row["p"] >= s.partly_floor and cover >= s.partly_cover)
             else "not reproduced")
        verdicts.append(v)
        rows.append(f"G={G}: {pct(row['p'], row['sem'])} of {row['factorable']} factorable blocks ({row['nets']} "
                    f"seeds; {row['non_46']} other-order, {row['nonfact']} non-factorable; {cover:.0%} of the "
                    "character pairs; band "
                    + (f"{pct(max(p0 - band, 0))}–{pct(min(p0 + band, 1))}" if band else "n/a") + f") [{v}]")
        early = [n for r in runs if tuple(r["group"]) == G for n in r["checkpoints"].get(c0, [])] if c0 != cp else []
        e = table2_row(early) if early else None
        n3 = _order3_pairs(G)
        side.append(f"G={G}: " + (f"{n3} of {(math.prod(G) - 1) // 2} character pairs of order 3 (2k = −k: slots "
                                   "(2k, 0) and (−k, 0) coincide); " if n3 else "")
                    + f"all-frequency rate {pct(row['strict'])} of {row['frequencies']}; sol_4_4cxi "
                    f"{pct(row['sol_4_4cxi'])}, sol_6_nusyn {pct(row['sol_6_nusyn'])}, sol_6_4csynab "
                    f"{pct(row['sol_6_4csynab'])}; all-row pairing (spec §9 deviation) "
                    f"{pct(table2_row(nets, 'table_abc')['p'])}"
                    + (f"; at epoch {s.paper_epoch}" + (" (Tbl. 2's checkpoint)" if s.paper_epoch == paper.TABLE2_EPOCH
                                                          else "") + f": {pct(e['p'], e['sem'])} (all-frequency "
                       f"{pct(e['strict'])})" if e else ""))
    if not rows:
        return Judgement("not run", "-", rule, f"no net reached epoch {s.epochs}")
    verdict = _combine(verdicts)
    if bad and verdict == "reproduced":
        verdict = "partly"
    detail = (f"constructions lifted to {[tuple(b['group']) for b in built]} (z_ν*z_syn, z_(ν=i)*z_syn,αβ, "
              f"z_(ν=i)*z_ξ + DC node, mixed 4/6), float64 loss on every pair: max {worst:.1e}"
              + (f"; ABOVE {s.built_tol:g}: {', '.join(bad)}" if bad else " (a sanity check)")
              + f". GD (q={s.width}, wd {s.wd:g}, Adam lr {s.lr:g}, test size {s.test_size:g}): " + "; ".join(side)
              + (f"; nets that do not fit: {', '.join(unfit_all)}" if unfit_all else ""))
    paper_says = ("the paper has no number for a non-cyclic group: its setting is \"reasoning tasks in Abelian group "
                  "(e.g. modular addition)\" and its ~95% is Tbl. 2's, on cyclic d = 23, 71, 127 at epoch 9900; "
                  f"compared indicatively with ~95% here ({s.deviation})")
    return Judgement(verdict, "; ".join(rows), rule, detail, paper_says)
