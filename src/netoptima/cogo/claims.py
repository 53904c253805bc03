"""Claims of the CoGO part (Tian 2024, "Composing Global Optimizers to Reasoning Tasks via Algebraic Objects").

Training runs are shared between claims: a run is keyed by its config, so ``reproduce cogo`` trains each
(d, q, wd, epochs, seeds) batch once (cogo.orders and cogo.weight_decay_low_order use the same batches).
cogo.match_rate and cogo.abelian (Tbl. 2's statistic, cyclic and non-cyclic groups) live in ``claims_table2.py``;
run functions in ``experiments.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from netoptima.claims import Judgement, Settings, claim, paper_subset
from netoptima.cogo import paper
from netoptima.cogo.analysis import ols_slope
from netoptima.cogo.experiments import (
    decoupling_claim_run,
    nets_of,
    orders_run,
    weight_decay_run,
)
from netoptima.cogo.plots import plot_decoupling, plot_orders, plot_weight_decay


@dataclass(frozen=True, kw_only=True)
class Training(Settings):
    """The training grid shared by the claims on GD solutions: moduli, width, epochs, Adam lr, split, seeds."""

    ds: tuple[int, ...]
    width: int
    epochs: int  # full-batch steps; 9900 = the checkpoint Tbl. 2 and Fig. 4 read (factorize_sol.py, sol_distri.py)
    seed_batches: tuple[tuple[int, ...], ...]  # seeds (offset by the runner's seed) trained as one batch
    record_every: int
    lr: float = paper.PAPER_LR
    test_size: float = paper.PAPER_TEST_SIZE
    # sanity check, never a reason for `reproduced`: the paper reads *global optimisers*; a net that does not fit
    # all its training pairs is not one, and caps the verdict at `partly`
    min_train_acc: float = 1.0


@dataclass(frozen=True, kw_only=True)
class Orders(Training):
    wds: tuple[float, ...]
    # "concentrates on 4 and 6" (Fig. 4, no percentage printed): at least 4 of 5 frequencies of order 4 or 6 and
    # every (d, wd) histogram's mode at 4 or 6; a world without the selection (no weight decay, nodes never
    # die) has orders ~q/2 at every frequency, 0% at 4 or 6
    min_frac: float = 0.8
    partly_frac: float = 0.5


@dataclass(frozen=True, kw_only=True)
class WeightDecay(Training):
    wds: tuple[float, ...]
    # trend: the OLS slope of each net's mean order against log10(wd) must be below 0 by z standard errors of the
    # fit (measured at small scale: −0.21 ± 0.08 per decade, 9 nets at epoch 9900); above 0 by z SE contradicts it
    z: float = 2.0
    mem_d: int
    mem_noise: float  # noise relative to max|w| added to the balanced memorisation optimum
    mem_wd: float
    mem_epochs: int
    mem_seeds: tuple[int, ...]
    # memorisation is left iff the live nodes (some weight > 0.01; d² at the start, each carrying every frequency)
    # end at ≤ half their start while the net still fits: halfway from d² (121 at d = 11) to the constructions' 4–6
    # per frequency. Counted in nodes, not in the per-frequency order: the order's absolute 0.05 threshold on
    # |A[k,j]| (A carries 1/d) does not see the d² thin nodes of the start at d = 23 (it reads order 0 there)
    mem_keep: float = 0.5


@dataclass(frozen=True, kw_only=True)
class Decoupling(Settings):
    d: int
    widths: tuple[int, ...]
    seeds: int
    # ±0.1 around −1/2: the fit's SE over 4 widths × 2 seeds is ≈ 0.01 (small scale), so the band is ~10 SE wide
    # yet excludes the neighbouring rates (q^0: no decoupling, q^-1: exact cancellation)
    slope_tol: float = 0.1
    z: float = 2.0  # `partly` needs a decrease significant at z standard errors of the slope


_SMOKE = dict(ds=(11,), width=64, epochs=1500, seed_batches=((1, 2),), record_every=50)
_SMALL = dict(ds=(23,), width=paper.TABLE2_WIDTH, epochs=paper.TABLE2_EPOCH, seed_batches=((1, 2, 3),),
              record_every=100)
_PAPER = dict(ds=paper.PAPER_DS, width=paper.TABLE2_WIDTH, epochs=paper.TABLE2_EPOCH,
              seed_batches=tuple((s,) for s in paper.TABLE2_SEEDS), record_every=100)
_TINY = "d = 11, q = 64, 1500 epochs, 2 seeds"
_PAPER_SUB = {**_PAPER, "ds": (23, 71)}
_SUB = ("paper setting, subset: d = 23, 71 of 23, 71, 127 (d = 127: 25 more nets at ≈ 16 CPU-min each; "
        "NETOPTIMA_PAPER_FULL=1 runs all)")
_MEM = dict(mem_noise=1e-2, mem_wd=5e-4)
_PAPER_MEM = dict(**_MEM, mem_d=23, mem_epochs=10_000, mem_seeds=paper.TABLE2_SEEDS, wds=paper.PAPER_WDS)
_MEM_TEST = "the memorisation run is our test of Thm. 5"

ORDERS = {
    "smoke": Orders(**_SMOKE, wds=(1e-4, 5e-4), deviation=f"{_TINY}, 2 weight decays"),
    "small": Orders(**_SMALL, wds=(5e-5, 1e-4, 5e-4), deviation="d = 23 only, 3 of 5 weight decays, 3 seeds"),
    # d = 127 costs ≈ 16 CPU-min per net (cogo.match_rate's paper run), 25 nets ≈ 7 h: past the ~2 h on this machine
    "paper": paper_subset(Orders(**_PAPER_SUB, wds=paper.PAPER_WDS, deviation=_SUB),
                          Orders(**_PAPER, wds=paper.PAPER_WDS)),
}
WEIGHT_DECAY = {
    "smoke": WeightDecay(**_SMOKE, **_MEM, mem_d=7, mem_epochs=1500, mem_seeds=(1,), wds=ORDERS["smoke"].wds,
                         deviation=ORDERS["smoke"].deviation + "; memorisation at d = 7"),
    "small": WeightDecay(**_SMALL, **_MEM, mem_d=11, mem_epochs=3000, mem_seeds=(1, 2), wds=ORDERS["small"].wds,
                         deviation=ORDERS["small"].deviation + "; memorisation at d = 11, 3000 epochs"),
    "paper": paper_subset(WeightDecay(**_PAPER_SUB, **_PAPER_MEM, deviation=f"{_SUB}; {_MEM_TEST}"),
                          WeightDecay(**_PAPER, **_PAPER_MEM, deviation=_MEM_TEST)),
}
DECOUPLING = {
    "smoke": Decoupling(d=5, widths=(64, 256, 1024), seeds=2, deviation="d = 5, q ≤ 1024"),
    "small": Decoupling(d=7, widths=(64, 256, 1024, 4096), seeds=2, deviation="d = 7, q ≤ 4096"),
    "paper": Decoupling(d=11, widths=(64, 256, 1024, 4096, 16384), seeds=5,
                        deviation="the paper states the limit only; d = 11, q ≤ 16384 is our choice"),
}


def _unfit(nets: list[dict[str, Any]], s: Training) -> list[str]:
    return [f"d={n['d']} wd={n['weight_decay']:g} seed {n['seed']} (train acc {n['train_acc']:.3f})"
            for n in nets if n["train_acc"] < s.min_train_acc]


def _paper_setup(s: Training, wds: tuple[float, ...]) -> bool:
    return s.width == paper.TABLE2_WIDTH and s.epochs == paper.TABLE2_EPOCH and set(s.ds) <= set(paper.PAPER_DS) \
        and set(wds) <= set(paper.PAPER_WDS)


def _cells_says(s: Training, wds: tuple[float, ...], what: str) -> str | None:
    """``paper_says`` for Fig. 4's setup: None for all its cells, the cells that ran for a subset of them."""
    if set(s.ds) == set(paper.PAPER_DS) and set(wds) == set(paper.PAPER_WDS):
        return None
    return (f"{what}, on the cells that ran: d ∈ {{{', '.join(map(str, s.ds))}}} × wd ∈ "
            f"{{{', '.join(f'{w:g}' for w in wds)}}} of Fig. 4's d = 23, 71, 127 × 5 wds (q = 512, epoch 9900)")


# ---------------------------------------------------------------------------------------------- cogo.orders
@claim(id="cogo.orders", paper=paper.PAPER,
       statement="the per-frequency solution order found by gradient descent concentrates on 4 and 6",
       paper_value=paper.ORDERS_STATEMENT, settings=ORDERS, run=orders_run, plot=plot_orders,
       budget={"smoke": "3 s", "small": "30 s (2 batches of 3 nets at d = 23 beyond match_rate's)",
               "paper": "subset d = 23, 71 (50 nets of 9900 epochs): 52 min on one core (measured with the v2 "
                        "trainer); full (+ 25 nets at d = 127, ≈ 16 min each): ≈ 7.5 h on one core, ≈ 1 h on one "
                        "GPU (estimated: 3·2·d³·q flops per epoch at ~2 TFLOP/s)"})
def judge_orders(data: dict[str, Any], s: Orders) -> Judgement:
    rule = (f"order = #{{j: |A[k,j]| > {paper.ORDER_THRESHOLD}}} per frequency; reproduced iff ≥ {s.min_frac:.0%} "
            "of all frequencies have order 4 or 6, every (d, wd) histogram peaks at 4 or 6 and every net fits its "
            f"training pairs; partly iff ≥ {s.partly_frac:.0%} have order 4 or 6; else not reproduced")
    nets = nets_of(data["runs"])
    if not nets:
        return Judgement("not run", "-", rule, "no training run finished")
    all_orders = [o for n in nets for o in n["orders"]]
    frac = float(np.mean([o in paper.ORDERS for o in all_orders]))
    cells = {}
    for d, wd in sorted({(n["d"], n["weight_decay"]) for n in nets}):
        os_ = [o for n in nets if (n["d"], n["weight_decay"]) == (d, wd) for o in n["orders"]]
        vals, counts = np.unique(os_, return_counts=True)
        cells[f"d={d},wd={wd:g}"] = (float(np.mean([o in paper.ORDERS for o in os_])), int(vals[np.argmax(counts)]))
    off_mode = [k for k, (_, mode) in cells.items() if mode not in paper.ORDERS]
    unfit = _unfit(nets, s)
    measured = f"{100 * frac:.1f}% of {len(all_orders)} frequencies have order 4 or 6 ({len(nets)} nets)"
    detail = (f"d={list(s.ds)}, q={s.width}, wd={list(s.wds)}, {s.epochs} epochs; per cell: "
              + "; ".join(f"{k}: {100 * f:.0f}% (mode {m})" for k, (f, m) in cells.items())
              + (f"; nets that do not fit: {', '.join(unfit)}" if unfit else ""))
    paper_says = _cells_says(s, s.wds, "Fig. 4: the order histograms peak at 4 and 6") if _paper_setup(s, s.wds) \
        else (f"Fig. 4 shows q = 512, epoch 9900, d = 23, 71, 127; this setup ({s.deviation}) is not in it: trend "
              "only, the paper's histograms need --scale paper")
    if frac >= s.min_frac and not off_mode and not unfit:
        verdict = "reproduced"
    elif frac >= s.partly_frac:
        verdict = "partly"
    else:
        verdict = "not reproduced"
    return Judgement(verdict, measured, rule, detail, paper_says)


# ------------------------------------------------------------------------------ cogo.weight_decay_low_order
@claim(id="cogo.weight_decay_low_order", paper=paper.PAPER,
       statement="weight decay favours low-order (simple) solutions: larger weight decay gives lower order, and "
                 "high-order optima such as perfect memorisation are unfavourable under weight decay",
       paper_value=paper.WEIGHT_DECAY_STATEMENT, settings=WEIGHT_DECAY, run=weight_decay_run,
       plot=plot_weight_decay,
       budget={"smoke": "3 s", "small": "3 s (training shared with cogo.orders)",
               "paper": "cogo.orders' runs plus 5 memorisation runs at d = 23 (q = 529): + 5 min"})
def judge_weight_decay(data: dict[str, Any], s: WeightDecay) -> Judgement:
    rule = (f"trend: OLS slope b of each net's mean order on log10(wd), decreasing iff b + {s.z:g}·SE < 0, "
            f"contrary iff b − {s.z:g}·SE > 0; memorisation left iff every run started at the order-d² optimum "
            f"(d² live nodes) ends with ≤ {s.mem_keep:.0%} of its starting live nodes and still fits its training "
            f"pairs; reproduced iff "
            "both (and every trained net fits), not reproduced iff neither, partly otherwise")
    nets, mem = nets_of(data["runs"]), data["memorization"]
    if not nets or not mem:
        return Judgement("not run", "-", rule, "no training run finished")
    wds = sorted({n["weight_decay"] for n in nets})
    mean_order = {wd: float(np.mean([np.mean(n["orders"]) for n in nets if n["weight_decay"] == wd])) for wd in wds}
    b, se = ols_slope(np.log10([n["weight_decay"] for n in nets]), np.array([np.mean(n["orders"]) for n in nets])) \
        if len(wds) > 1 else (math.nan, math.nan)  # one wd: no trend to measure
    se = 0.0 if math.isnan(se) else se
    decreasing, contrary = b + s.z * se < 0, b - s.z * se > 0  # both False for a nan slope
    mnets = mem[0]["nets"]
    left = [n["active_end"] <= s.mem_keep * n["active_start"] and n["train_acc_end"] >= s.min_train_acc
            for n in mnets]
    mem_ok = all(left)
    unfit = _unfit(nets, s)
    measured = ("mean order " + ", ".join(f"{mean_order[w]:.2f} (wd {w:g})" for w in wds)
                + f", slope {b:+.2f} ± {se:.2f} per decade; memorisation: live nodes "
                + ", ".join(f"{n['active_start']}→{n['active_end']}" for n in mnets) + ", mean order at the end "
                + "/".join(f"{n['order_end']:.1f}" for n in mnets))
    detail = (f"{len(nets)} nets, d={list(s.ds)}, q={s.width}, {s.epochs} epochs; memorisation d={s.mem_d} (q = d²), "
              f"noise {s.mem_noise:g}·max|w|, wd {s.mem_wd:g}, {s.mem_epochs} epochs: "
              + "; ".join(f"seed {n['seed']}: active nodes {n['active_start']}→{n['active_end']}, balanced norm "
                          f"{n['norm_start']:.1f}→{n['norm_end']:.1f}, loss {n['loss_start']:.1e}→{n['loss_end']:.1e}, "
                          f"train acc {n['train_acc_end']:.3f}" for n in mnets)
              + ("; the order rises with wd (contrary to the paper)" if contrary else "")
              + (f"; nets that do not fit: {', '.join(unfit)}" if unfit else ""))
    paper_says = _cells_says(s, s.wds, "larger wd → lower order") if _paper_setup(s, s.wds) else (
        f"the paper's trend is over 5 wds × d = 23, 71, 127 at q = 512; here {s.deviation}: trend only")
    if decreasing and mem_ok and not unfit:
        verdict = "reproduced"
    elif decreasing or mem_ok:
        verdict = "partly"
    else:
        verdict = "not reproduced"
    return Judgement(verdict, measured, rule, detail, paper_says)


# ---------------------------------------------------------------------------------------------- cogo.decoupling
@claim(id="cogo.decoupling", paper=paper.PAPER,
       statement="over-parameterisation asymptotically decouples the dynamics of the monomial potentials",
       paper_value=paper.DECOUPLING_STATEMENT, settings=DECOUPLING, run=decoupling_claim_run,
       plot=plot_decoupling,
       budget={"smoke": "3 s", "small": "10 s", "paper": "15 min (d = 11, q up to 16384, float64 GEMMs)"})
def judge_decoupling(data: dict[str, Any], s: Decoupling) -> Judgement:
    rule = (f"log-log OLS slope b of ‖offdiag(J Jᵀ)‖/‖diag(J Jᵀ)‖ against q over all seeds at init; reproduced "
            f"iff |b − ({paper.DECOUPLING_RATE})| ≤ {s.slope_tol}; partly iff it decays at another rate "
            f"(b + {s.z:g}·SE < 0); else not reproduced")
    runs = data["runs"]
    if len({r["width"] for r in runs}) < 2:
        return Judgement("not run", "-", rule, "fewer than two widths finished")
    b, se = ols_slope(np.log([r["width"] for r in runs]), np.log([r["ratio"] for r in runs]))
    se = 0.0 if math.isnan(se) else se
    w = np.array([r["width"] for r in runs])
    y = np.array([r["ratio"] for r in runs])
    lo, hi = w.min(), w.max()
    measured = (f"slope {b:+.3f} ± {se:.3f}; ratio {y[w == lo].mean():.3f} (q={lo}) → {y[w == hi].mean():.3f} "
                f"(q={hi})")
    detail = (f"d={s.d}, all r_(k1 k2 k) with output k = 1..(d−1)/2 (real and imaginary parts), J w.r.t. the real "
              f"weights at PyTorch's default init, q ∈ {list(s.widths)}, {s.seeds} seeds")
    if abs(b - paper.DECOUPLING_RATE) <= s.slope_tol:
        verdict = "reproduced"
    elif b + s.z * se < 0:
        verdict = "partly"
    else:
        verdict = "not reproduced"
    return Judgement(verdict, measured, rule, detail,
                     "the paper states the q → ∞ limit only; the q^-1/2 rate is our derivation (spec §6a)")


from netoptima.cogo import claims_table2  # noqa: E402,F401  (registers cogo.match_rate and cogo.abelian)
