"""Run functions of the CoGO part: training batches with their analysis, memorisation runs, decoupling at init.

Every config carries ``device`` (added by the runner) and every number the run uses; nothing has a default here
(the claims' settings hold them). Seeds within one training config train as one batched tensor program.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from netoptima.cogo.analysis import factorize, solution_orders
from netoptima.cogo.constructions import balanced_norm, perfect_memorization, rebalance
from netoptima.cogo.dynamics import decoupling_ratio
from netoptima.cogo.model import default_init
from netoptima.cogo.train import train
from netoptima.conventions import torch_threads
from netoptima.sweep import Runner, run_fn

# Below ~1e8 multiply-adds per GEMM (d = 23, q = 512, 3 seeds: 1.9e7) a second thread only spin-waits; on a
# shared 2-core machine at load 5 it made a d = 23 batch 6x slower (65 vs 11 ms per seed-epoch). d = 71 splits.
SMALL_MACS = 1e8


def _threads(macs: float) -> int | None:
    return 1 if macs < SMALL_MACS else None


@run_fn(version=2)  # v2: train()'s per-seed kernel (float32 rounding order: final loss rel ~1e-5)
def train_run(config: dict[str, Any]) -> dict[str, Any]:
    """Train one batch of seeds with the paper protocol (spec §5) and analyse every net (orders, factorisation).

    Config keys: ``d``, ``width``, ``weight_decay``, ``epochs`` (= full-batch steps), ``lr``, ``test_size``,
    ``seeds`` (list), ``record_every``, ``device``.
    """
    d, seeds, every = config["d"], config["seeds"], config["record_every"]
    with torch_threads(_threads(len(seeds) * d**3 * config["width"])):
        res = train(d, config["width"], seeds=seeds, weight_decay=config["weight_decay"], steps=config["epochs"],
                    lr=config["lr"], test_size=config["test_size"], record_every=every,
                    record_at=range(0, 5 * every, 10), device=config["device"], dtype=torch.float32, quiet=True)
        nets = []
        for i, s in enumerate(seeds):
            w = res.seed_weights(i)
            nets.append({
                "seed": s, "orders": res.orders[-1, i].tolist(), "table": factorize(w),
                "train_loss": float(res.train_loss[-1, i]), "test_loss": float(res.test_loss[-1, i]),
                "train_acc": float(res.train_acc[-1, i]), "test_acc": float(res.test_acc[-1, i]),
                "balanced_norm": balanced_norm(tuple(x.to(torch.float64) for x in w)),
            })
    r_diag = res.r_kkk.sum(-1)  # (T, S): Σ_k Re r_kkk over all k ∈ Z_d (r_000 → 0, the rest → 1)
    return {"nets": nets, "train_seconds": res.seconds, "history": {
        "epochs": res.epochs.tolist(), "r_diag": r_diag.T.tolist(), "r_offdiag": (res.r_total - r_diag).T.tolist(),
        "mean_order": res.orders.double().mean(-1).T.tolist(), "train_loss": res.train_loss.T.tolist(),
        "live": res.live.tolist(), "target_diag": d - 1}}


@run_fn(version=2)  # v2: train()'s per-seed kernel (float32 rounding order: final loss rel ~1e-5)
def match_run(config: dict[str, Any]) -> dict[str, Any]:
    """Tbl. 2's nets: train one batch of seeds and factorise them at each checkpoint of the same continued run.

    Config keys: ``d``, ``width``, ``weight_decay``, ``checkpoints`` (epochs, the last is where training stops;
    e.g. [9900, 20000]: the paper's checkpoint and the convergence check), ``lr``, ``test_size``, ``seeds`` (list),
    ``device``. Each net is factorised with the official pairing (``table``) and with the all-row pairing
    (``table_abc``, spec §9's labelled deviation).
    """
    d, seeds, cps = config["d"], config["seeds"], sorted(config["checkpoints"])
    with torch_threads(_threads(len(seeds) * d**3 * config["width"])):
        res = train(d, config["width"], seeds=seeds, weight_decay=config["weight_decay"], steps=cps[-1],
                    lr=config["lr"], test_size=config["test_size"], record_every=cps[-1], snapshot_at=cps,
                    device=config["device"], dtype=torch.float32, quiet=True)
    return {"checkpoints": _checkpoint_tables(res, seeds, cps), "train_seconds": res.seconds}


def _checkpoint_tables(res: Any, seeds: list[int], cps: list[int], G: tuple[int, ...] | None = None
                       ) -> dict[str, list[dict[str, Any]]]:
    """Every net of a training batch factorised at each checkpoint (official and all-row pairing)."""
    epochs = res.epochs.tolist()
    out = {}
    for cp in cps:
        row = epochs.index(cp)
        nets = []
        for i, s in enumerate(seeds):
            w = tuple(x[i] for x in res.snapshots[cp])
            group = {} if G is None else {"G": G}  # the cyclic call stays exactly today's
            nets.append({"seed": s, "table": factorize(w, **group), "table_abc": factorize(w, pairing="abc", **group),
                         "orders": res.orders[row, i].tolist(), "train_loss": float(res.train_loss[row, i]),
                         "train_acc": float(res.train_acc[row, i]), "test_acc": float(res.test_acc[row, i])})
        out[str(cp)] = nets
    return out


@run_fn(version=2)  # v2: train()'s per-seed kernel (float32 rounding order: final loss rel ~1e-5)
def group_match_run(config: dict[str, Any]) -> dict[str, Any]:
    """:func:`match_run` over a finite Abelian group G = Z_d1 × … × Z_dk (data of ``netoptima.data.abelian_task``).

    Config keys: ``group`` (the odd orders), ``width``, ``weight_decay``, ``checkpoints``, ``lr``, ``test_size``,
    ``seeds`` (list), ``device``. Nets are read in G's character basis (``factorize(w, G=group)``).
    """
    G, seeds, cps = tuple(config["group"]), config["seeds"], sorted(config["checkpoints"])
    n = math.prod(G)
    with torch_threads(_threads(len(seeds) * n**3 * config["width"])):
        res = train(G, config["width"], seeds=seeds, weight_decay=config["weight_decay"], steps=cps[-1],
                    lr=config["lr"], test_size=config["test_size"], record_every=cps[-1], snapshot_at=cps,
                    device=config["device"], dtype=torch.float32, quiet=True)
    return {"group": list(G), "checkpoints": _checkpoint_tables(res, seeds, cps, G), "train_seconds": res.seconds}


# one choice per character pair (``global_optimizer``'s ``orders``) and the order-4 compensation
CONSTRUCTIONS_BUILT = {"z_nu*z_syn": (6, "mixed"), "z_nu(i)*z_syn_ab": ("6ab", "mixed"),
                       "z_nu(i)*z_xi + DC node": (4, "dc"), "mixed 4/6": ("mixed", "mixed")}


@run_fn(version=1)
def group_construction_run(config: dict[str, Any]) -> dict[str, Any]:
    """Direct float64 loss on every pair of ``abelian_task(group)`` of the constructions lifted to G (spec §4).

    Config keys: ``group``, ``seed`` (draws ν, ξ, α, β), ``device`` (unused: float64 on the CPU).
    """
    from netoptima.cogo.groups import character_pairs, group_global_optimizer, group_loss

    G = tuple(config["group"])
    pairs = len(character_pairs(G))
    losses = {}
    for name, (orders, comp) in CONSTRUCTIONS_BUILT.items():
        per = [6 if i % 2 == 0 else 4 for i in range(pairs)] if orders == "mixed" else orders
        z = group_global_optimizer(G, per, compensation=comp, seed=config["seed"])
        losses[name] = float(group_loss(z.to_weights(G), G))
    return {"group": list(G), "losses": losses}


@run_fn(version=2)  # v2: train()'s per-seed kernel (float32 rounding order: final loss rel ~1e-5)
def memorization_run(config: dict[str, Any]) -> dict[str, Any]:
    """Start at the balanced perfect-memorisation optimum (order d², spec §4) plus noise, train with weight decay.

    Config keys: ``d``, ``noise`` (relative to max|w|), ``weight_decay``, ``epochs``, ``lr``, ``test_size``,
    ``seeds`` (list; the first seeds the noise), ``record_every``, ``device``.
    """
    d, seeds = config["d"], config["seeds"]
    W = rebalance(perfect_memorization(d).to_weights(d))  # float64, loss ≈ 1e-30
    gen = torch.Generator().manual_seed(seeds[0])
    init = tuple(torch.stack([w + config["noise"] * w.abs().max() * torch.randn(w.shape, generator=gen,
                                                                                dtype=w.dtype)
                              for _ in seeds]).float() for w in W)
    with torch_threads(_threads(len(seeds) * d**5)):
        res = train(d, d * d, seeds=seeds, weight_decay=config["weight_decay"], steps=config["epochs"],
                    lr=config["lr"], test_size=config["test_size"], init=init, record_every=config["record_every"],
                    device=config["device"], dtype=torch.float32, quiet=True)
    out = []
    for i, s in enumerate(seeds):
        w0 = tuple(x[i].double() for x in init)
        w1 = tuple(x[i].double() for x in res.weights)
        out.append({"seed": s, "order_start": solution_orders(w0).double().mean().item(),
                    "order_end": solution_orders(w1).double().mean().item(),
                    "norm_start": balanced_norm(w0), "norm_end": balanced_norm(w1),
                    "active_start": int(res.active[0, i]), "active_end": int(res.active[-1, i]),
                    "loss_start": float(res.train_loss[0, i]), "loss_end": float(res.train_loss[-1, i]),
                    "train_acc_end": float(res.train_acc[-1, i]), "test_acc_end": float(res.test_acc[-1, i])})
    return {"nets": out, "history": {"epochs": res.epochs.tolist(), "train_loss": res.train_loss.T.tolist(),
                                     "active": res.active.T.tolist(), "sq_norm": res.sq_norm.T.tolist(),
                                     "mean_order": res.orders.double().mean(-1).T.tolist()}}


@run_fn(version=1)
def decoupling_run(config: dict[str, Any]) -> dict[str, Any]:
    """‖offdiag(J Jᵀ)‖/‖diag(J Jᵀ)‖ of the potentials at the default init (spec §6a).

    Config keys: ``d``, ``width``, ``seed``, ``device``.
    """
    W = default_init(config["d"], config["width"], config["seed"], dtype=torch.float64)
    return {"ratio": decoupling_ratio(W, device=config["device"], dtype=torch.float64)}


def nets_of(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every trained net of :func:`train_run` records, with its run's d and weight decay."""
    return [{**n, "d": r["d"], "weight_decay": r["weight_decay"]} for r in runs for n in r["nets"]]


# ---------------------------------------------------------------- claim-level run functions (settings, runner -> data)
# ``s`` is the claim's settings dataclass (netoptima.cogo.claims); typed Any so that this module does not import it.
def _train(s: Any, wds: tuple[float, ...], runner: Runner) -> list[dict[str, Any]]:
    configs = [{"d": d, "width": s.width, "weight_decay": wd, "epochs": s.epochs, "lr": s.lr, "test_size": s.test_size,
                "seeds": [runner.seed + x for x in batch], "record_every": s.record_every}
               for d in s.ds for wd in wds for batch in s.seed_batches]
    return runner.map(train_run, configs, desc="cogo train")



def match_rate_run(s: Any, runner: Runner) -> dict[str, Any]:
    configs = [{"d": d, "width": s.width, "weight_decay": s.wd, "lr": s.lr, "test_size": s.test_size,
                "checkpoints": [s.epochs, s.converge_epochs] if d in s.converge_ds else [s.epochs],
                "seeds": [runner.seed + x for x in batch]} for d in s.ds for batch in s.seed_batches]
    return {"runs": runner.map(match_run, configs, desc="cogo Tbl. 2")}


def orders_run(s: Any, runner: Runner) -> dict[str, Any]:
    return {"runs": _train(s, s.wds, runner)}


def weight_decay_run(s: Any, runner: Runner) -> dict[str, Any]:
    mem = {"d": s.mem_d, "noise": s.mem_noise, "weight_decay": s.mem_wd, "epochs": s.mem_epochs, "lr": s.lr,
           "test_size": s.test_size, "seeds": [runner.seed + x for x in s.mem_seeds],
           "record_every": max(1, s.mem_epochs // 50)}
    return {"runs": _train(s, s.wds, runner),
            "memorization": runner.map(memorization_run, [mem], desc="cogo memorisation")}


def decoupling_claim_run(s: Any, runner: Runner) -> dict[str, Any]:
    configs = [{"d": s.d, "width": q, "seed": runner.seed + k} for q in s.widths for k in range(s.seeds)]
    return {"runs": runner.map(decoupling_run, configs, desc="cogo decoupling")}


def abelian_claim_run(s: Any, runner: Runner) -> dict[str, Any]:
    built = runner.map(group_construction_run, [{"group": list(G), "seed": runner.seed} for G in s.built],
                       desc="cogo constructions on G", in_process=True)
    configs = [{"group": list(G), "width": s.width, "weight_decay": s.wd, "lr": s.lr, "test_size": s.test_size,
                "checkpoints": sorted({s.paper_epoch, s.epochs}), "seeds": [runner.seed + x for x in batch]}
               for G in s.groups for batch in s.seed_batches]
    return {"built": built, "runs": runner.map(group_match_run, configs, desc="cogo GD on G")}
