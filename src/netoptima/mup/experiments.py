"""Run functions behind the ``mup.*`` claims: each a pure function of a JSON-able config returning JSON data.

The claims map them over widths / parametrizations / learning rates with ``runner.map`` (resumable, local
processes or Dask). Every config carries every setting (written once, in the claim's settings) and ``device``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from netoptima.claims import Judgement, paper_subset, worst
from netoptima.conventions import TrainingDiverged, check_choice
from netoptima.mup.coord import coord_check
from netoptima.mup.data import dataset_for_scale, load_images
from netoptima.mup.features import feature_change, feature_gram_min_eig
from netoptima.mup.models import MLP
from netoptima.mup.train import mse_loss, train_sgd
from netoptima.sweep import Runner, run_fn

__all__ = ["LR_RULES", "VARIANTS", "by_variant", "combine", "convergence_claim_run", "convergence_run", "coord_run",
           "effective_lr", "feature_change_run", "feature_diversity_run", "feature_run", "last_layer_gradient",
           "lr_run", "nets", "seeds_of", "split_nets", "transfer_run", "widths_of"]

# "table": η (n/n0)^{-c} exactly as the abc-table says; "inverse_width": an extra n0/n, the largest stable
# scaling of SP (TP IV: SP with a width-independent η has r < 0 and blows up as n grows).
LR_RULES: tuple[str, ...] = ("table", "inverse_width")
# label -> (parametrization, lr rule) of the feature runs. SP runs at its largest stable rate η·n0/n; "SP (η const)"
# is the table's c = 0 (shown in the figures, in no rule).
VARIANTS: dict[str, tuple[str, str]] = {"SP": ("sp", "inverse_width"), "NTP": ("ntp", "table"), "μP": ("mup", "table"),
                                        "MF": ("mf", "table"), "SP (η const)": ("sp", "table")}
JUDGED: tuple[str, ...] = ("SP", "NTP", "μP", "MF")  # the variants the rules read (the extra activation runs these)
DTYPE = torch.float32  # every run trains in float32 (λ_min is computed in float64 from the float32 features)


def effective_lr(lr: float, rule: str, width: int, base_width: int) -> float:
    """The base η handed to :func:`param_groups` under ``rule`` (see :data:`LR_RULES`)."""
    check_choice("lr_rule", rule, LR_RULES)
    return lr * (base_width / width if rule == "inverse_width" else 1.0)


def by_variant(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Feature-run records grouped by :data:`VARIANTS` label (labels without a run are left out)."""
    by = {v: [r for r in runs if (r["parametrization"], r["lr_rule"]) == pl] for v, pl in VARIANTS.items()}
    return {v: rs for v, rs in by.items() if rs}


def _model(config: dict[str, Any], d: int) -> MLP:
    gen = torch.Generator().manual_seed(config["seed"])
    model = MLP(d, config["width"], 10, depth=config["depth"], parametrization=config["parametrization"],
                activation=config["activation"], base_width=config["base_width"], generator=gen, dtype=DTYPE)
    return model.to(config["device"])


def _data(config: dict[str, Any], key: str, split: str) -> tuple[Tensor, Tensor]:
    X, Y = load_images(config["dataset"], config[key], split=split, seed=config["data_seed"])
    return X.to(config["device"], DTYPE), Y.to(config["device"], DTYPE)


def _gram_stats(feats: list[Tensor]) -> dict[str, list[float]]:
    """λ_min(K) (the paper's), λ_min(K/n) (ours) and λ_min relative to the mean eigenvalue, per layer."""
    lam = [feature_gram_min_eig(h) for h in feats]
    n = feats[0].shape[1]
    mean_eig = [float(h.detach().double().pow(2).sum()) / h.shape[0] for h in feats]  # tr(K)/N
    return {"lam": lam, "lam_n": [v / n for v in lam],
            "lam_rel": [v / m if m > 0 else 0.0 for v, m in zip(lam, mean_eig, strict=True)]}


def _prefixed(stats: dict[str, list[float]], prefix: str) -> dict[str, list[float]]:
    return {prefix + k[3:]: v for k, v in stats.items()}  # "lam_n" -> "lam0_n", "joint_n"


@run_fn(version=2)
def feature_run(config: dict[str, Any]) -> dict[str, Any]:
    """Train one MLP with SGD and measure every hidden layer's features on a fixed probe set (Fig. 1).

    Config keys: ``parametrization``, ``lr_rule``, ``width``, ``lr``, ``steps``, ``batch``, ``n_train``,
    ``n_probe``, ``seed``, ``depth``, ``activation``, ``base_width``, ``dataset``, ``data_seed``, ``device``.

    Returns:
        ``change``: median over probes of ‖x^l − x^l_0‖/‖x^l_0‖ per hidden layer; ``lam``/``lam_n``/``lam_rel``
        and ``lam0``/``lam0_n``/``lam0_rel``: λ_min(K), λ_min(K/n), λ_min/mean eigenvalue after training and
        at init; ``joint``/``joint_n``/``joint_rel``: the same for the joint Gram of the 2N concatenated initial
        and final features [h0(ξ_1), h(ξ_1), …] (Chen et al. Fig. 1, third measure); ``base2_n``: λ_min(K/n) at
        init of 2N distinct probes (the finite-size baseline of a 2N-row Gram); ``loss0``/``loss``: full
        training loss before/after; ``diverged`` (then the metrics after training are None).
    """
    Xtr, Ytr = _data(config, "n_train", "train")
    N, n = config["n_probe"], config["width"]
    if not 1 <= 2 * N <= n:  # else λ_min of the 2N-row joint Gram is 0 for any features (rank <= n < 2N)
        raise ValueError(f"n_probe must be in 1…{n // 2} (2·n_probe <= width {n} for the joint Gram), got {N}")
    X2, _ = _data({**config, "n_probe2": 2 * N}, "n_probe2", "test")  # the first N are the probes (a prefix)
    Xp = X2[:N]
    model = _model(config, Xtr.shape[1])
    with torch.no_grad():
        feats02 = model.features(X2)
        feats0 = [h[:N] for h in feats02]
        loss0 = float(mse_loss(model(Xtr), Ytr))
    init = {**_prefixed(_gram_stats(feats0), "lam0"), "base2_n": _gram_stats(feats02)["lam_n"]}
    failed = {"diverged": True, "loss0": loss0, "loss": None, "change": None, "lam": None, "lam_n": None,
              "lam_rel": None, "joint": None, "joint_n": None, "joint_rel": None, **init}
    lr = effective_lr(config["lr"], config["lr_rule"], config["width"], config["base_width"])
    try:
        train_sgd(model, Xtr, Ytr, steps=config["steps"], lr=lr, batch_size=config["batch"], seed=config["seed"],
                  device=config["device"], dtype=DTYPE)
    except TrainingDiverged as exc:
        return {**failed, "diverged_step": exc.step}
    with torch.no_grad():
        feats = model.features(Xp)
        loss = float(mse_loss(model(Xtr), Ytr))
    if not all(torch.isfinite(h).all() for h in feats):
        return {**failed, "diverged_step": config["steps"]}
    change = [float(feature_change(h, h0).median()) for h, h0 in zip(feats, feats0, strict=True)]
    joint = _prefixed(_gram_stats([torch.cat([h0, h]) for h, h0 in zip(feats, feats0, strict=True)]), "joint")
    return {"diverged": False, "loss0": loss0, "loss": loss, "change": change, **_gram_stats(feats), **joint,
            **init}


def last_layer_gradient(model: MLP, X: Tensor, Y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """G = ∂L/∂W^{L+1} = ℓ'ᵀ X^L for the MSE loss, with ℓ'_i = 2(f_i − y_i)/(N k) (Chen et al. Cor. 4.6).

    Returns:
        ``(G, ell, XL)``: G of shape (k, n), ℓ' of shape (N, k), last hidden features X^L of shape (N, n).
    """
    with torch.no_grad():
        XL = model.features(X)[-1]  # (N, n)
        f = model.layers[-1](XL)  # (N, k)
        ell = 2 * (f - Y) / Y.numel()  # (N, k)
        return ell.T @ XL, ell, XL  # (k, n)


@run_fn(version=1)
def convergence_run(config: dict[str, Any]) -> dict[str, Any]:
    """Full-batch SGD on N < width examples; track loss, λ_min of the feature Grams and the readout gradient.

    Config keys: ``parametrization``, ``width``, ``lr``, ``steps``, ``n_probe`` (N), ``every``, ``seed``,
    ``depth``, ``activation``, ``base_width``, ``dataset``, ``data_seed``, ``device``.

    Returns:
        ``t``, ``loss``, ``lam_n`` (per layer), ``lam_rel`` (per layer), ``grad`` (‖G‖_F) and ``bound`` at every
        checkpoint. ``bound`` = (N k/4)·‖G‖²/λ_min(K^L) ≥ loss (None when λ_min = 0) is Cor. 4.6 made
        quantitative: ‖G‖² = tr(ℓ'ᵀ K ℓ') ≥ λ_min(K)‖ℓ'‖², and the MSE loss is (N k/4)‖ℓ'‖².
    """
    X, Y = _data(config, "n_probe", "train")
    model = _model(config, X.shape[1])
    hist: dict[str, list[Any]] = {"t": [], "loss": [], "lam_n": [], "lam_rel": [], "grad": [], "bound": []}

    def record(t: int, m: MLP) -> None:
        G, ell, XL = last_layer_gradient(m, X, Y)
        with torch.no_grad():
            stats = _gram_stats(m.features(X))
        loss = Y.numel() / 4 * float(ell.double().pow(2).sum())  # = MSE, from ℓ' (same forward pass)
        lam_L = stats["lam"][-1]
        hist["t"].append(t)
        hist["loss"].append(loss)
        hist["lam_n"].append(stats["lam_n"])
        hist["lam_rel"].append(stats["lam_rel"])
        hist["grad"].append(float(G.double().norm()))
        hist["bound"].append(Y.numel() / 4 * float(G.double().norm()) ** 2 / lam_L if lam_L > 0 else None)

    try:
        train_sgd(model, X, Y, steps=config["steps"], lr=config["lr"], callback=record, every=config["every"],
                  seed=config["seed"], device=config["device"], dtype=DTYPE)
    except TrainingDiverged as exc:
        return {"diverged": True, "diverged_step": exc.step, **hist}
    return {"diverged": False, **hist}


@run_fn(version=1)
def lr_run(config: dict[str, Any]) -> dict[str, Any]:
    """Train at one learning rate; the final training loss on the whole training set (None if it diverged).

    Config keys: ``parametrization``, ``width``, ``lr``, ``steps``, ``batch``, ``n_train``, ``seed``, ``depth``,
    ``activation``, ``base_width``, ``dataset``, ``data_seed``, ``device``.
    """
    X, Y = _data(config, "n_train", "train")
    model = _model(config, X.shape[1])
    try:
        train_sgd(model, X, Y, steps=config["steps"], lr=config["lr"], batch_size=config["batch"],
                  seed=config["seed"], device=config["device"], dtype=DTYPE)
    except TrainingDiverged as exc:
        return {"loss": None, "diverged": True, "diverged_step": exc.step}
    with torch.no_grad():
        loss = float(mse_loss(model(X), Y))
    if not math.isfinite(loss):
        return {"loss": None, "diverged": True, "diverged_step": config["steps"]}
    return {"loss": loss, "diverged": False}


@run_fn(version=1)
def coord_run(config: dict[str, Any]) -> dict[str, Any]:
    """:func:`coord_check` for one parametrization on ``batch`` standardised training images.

    Config keys: ``parametrization``, ``widths``, ``steps``, ``lr``, ``batch``, ``depth``, ``activation``,
    ``base_width``, ``dataset``, ``data_seed``, ``device``.
    """
    X, Y = load_images(config["dataset"], config["batch"], seed=config["data_seed"])
    try:
        records = coord_check(config["parametrization"], config["widths"], steps=config["steps"], lr=config["lr"],
                              data=(X, Y.argmax(dim=1)), depth=config["depth"], activation=config["activation"],
                              base_width=config["base_width"], device=config["device"], dtype=DTYPE)
    except TrainingDiverged as exc:
        return {"records": [], "diverged": True, "diverged_step": exc.step}
    return {"records": records, "diverged": False}


# ---- claim-level runs and the helpers the judges share -----------------------------------------------------------
# A claim's settings carry ``hidden_layers`` (the paper's L: L hidden layers, L + 1 linear layers), the GOOD
# ``activation`` that decides the verdict, and an ``extra_activation`` (ReLU, outside Assumption 4.3) that runs at
# the first depth with ``extra_seeds`` seeds and is only shown.

def nets(s: Any) -> list[tuple[str, int]]:
    """(activation, L) of every net a claim runs: the deciding activation at every L, then the extra at the first."""
    extra = [(s.extra_activation, s.hidden_layers[0])] if s.extra_activation not in ("", s.activation) else []
    return [(s.activation, L) for L in s.hidden_layers] + extra


def net_config(s: Any, activation: str, L: int) -> dict[str, Any]:
    """The config keys every mup run shares, for the net with L hidden layers (L + 1 linear layers)."""
    return {"base_width": s.base_width, "depth": L + 1, "activation": activation, "data_seed": s.data_seed,
            "dataset": dataset_for_scale()}


def widths_of(s: Any, activation: str) -> tuple[int, ...]:
    """Widths run for ``activation``: all for the deciding one, those <= ``extra_max_width`` (0: all) for the extra."""
    cap = s.extra_max_width if activation != s.activation and s.extra_max_width else max(s.widths)
    return tuple(n for n in s.widths if n <= cap)


def seeds_of(s: Any, activation: str) -> int:
    """Seeds run for ``activation``: all of them for the deciding one, at most ``extra_seeds`` for the extra."""
    return s.seeds if activation == s.activation else min(s.seeds, s.extra_seeds)


def split_nets(runs: list[dict[str, Any]], s: Any) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Run records per net (activation, L) of :func:`nets`, in that order (a net without records maps to [])."""
    return {(a, L): [r for r in runs if (r["activation"], r["depth"] - 1) == (a, L)] for a, L in nets(s)}


def depth_note(s: Any) -> str:
    """The end of every μP rule: which depths decide (the worst counts) and that the extra activation does not."""
    return (f"worst over L = {', '.join(map(str, s.hidden_layers))} ({s.activation}); "
            f"the {s.extra_activation or 'extra'} run is shown only")


def combine(per_net: dict[tuple[str, int], Judgement], s: Any, rule: str, detail: str,
            says: str | None = None) -> Judgement:
    """One verdict from per-net judgements: the worst over the deciding activation's depths (the theorem holds
    for every L); the extra activation's would-be verdict and numbers go into the detail, deciding nothing."""
    main = [(L, per_net[(s.activation, L)]) for L in s.hidden_layers]
    verdict = worst(*(j.verdict for _, j in main))
    measured = " | ".join(f"L={L}: {j.measured}" for L, j in main)
    parts = [detail] + [f"L={L} ({s.activation}): {j.verdict}" + (f"; {j.detail}" if j.detail else "")
                        for L, j in main]
    for (a, L), j in per_net.items():
        if a != s.activation:
            ws = widths_of(s, a)
            parts.append(f"{a} extra at L={L}, widths {ws[0]}…{ws[-1]}, {seeds_of(s, a)} seed(s) (not a GOOD "
                         f"activation, Assumption 4.3: "
                         f"shown only, decides nothing): would be {j.verdict}; {j.measured}")
    return Judgement(verdict, measured, rule, " || ".join(p for p in parts if p), says)


def _feature_runs(s: Any, runner: Runner, labels: list[str]) -> list[dict[str, Any]]:
    configs = [{"parametrization": VARIANTS[v][0], "lr_rule": VARIANTS[v][1], "width": n, "lr": s.lr,
                "steps": s.steps, "batch": s.batch, "n_train": s.n_train, "n_probe": s.n_probe,
                "seed": runner.seed + k, **net_config(s, a, L)}
               for a, L in nets(s) for v in (labels if a == s.activation else [x for x in labels if x in JUDGED])
               for n in widths_of(s, a) for k in range(seeds_of(s, a))]
    return runner.map(feature_run, configs, desc="mup feature runs")


def feature_change_run(s: Any, runner: Runner) -> dict[str, Any]:
    """Fig. 1 left: the feature runs of every variant and net, and a μP coord check (sanity) at the first net."""
    net = net_config(s, s.activation, s.hidden_layers[0])
    coord = runner.map(coord_run, [{"parametrization": p, "widths": list(s.coord_widths), "steps": s.coord_steps,
                                    "lr": s.lr, "batch": s.coord_batch, **net} for p in ("sp", "ntp", "mup", "mf")],
                       desc="mup coord check", in_process=True)
    return {"runs": _feature_runs(s, runner, list(VARIANTS)), "coord": coord}


def feature_diversity_run(s: Any, runner: Runner) -> dict[str, Any]:
    """Fig. 1 right (and the joint Gram): the feature runs of SP, NTP, μP and MF (shared with feature_change)."""
    return {"runs": _feature_runs(s, runner, ["SP", "NTP", "μP", "MF"])}


def convergence_claim_run(s: Any, runner: Runner) -> dict[str, Any]:
    """Thm 4.5 / Cor. 4.6: full-batch SGD of μP on N < width images, per net and width."""
    configs = [{"parametrization": "mup", "width": n, "lr": s.lr, "steps": s.steps, "every": s.every,
                "n_probe": s.n_probe, "seed": runner.seed, **net_config(s, a, L)}
               for a, L in nets(s) for n in widths_of(s, a)]
    return {"runs": runner.map(convergence_run, configs, desc="mup convergence")}


def transfer_run(s: Any, runner: Runner) -> dict[str, Any]:
    """TP V: final training loss of μP and SP at η = 2^k per net, width and seed."""
    configs = [{"parametrization": p, "width": n, "lr": 2.0 ** k, "log2_lr": k, "steps": s.steps, "batch": s.batch,
                "n_train": s.n_train, "seed": runner.seed + j, **net_config(s, a, L)}
               for a, L in nets(s) for p in ("mup", "sp") for n in widths_of(s, a) for k in s.log2_lrs
               for j in range(seeds_of(s, a))]
    return {"runs": runner.map(lr_run, configs, desc="mup lr transfer")}


FULL_ENV = "NETOPTIMA_MUP_FULL"  # the older, μP-only name of netoptima.claims.PAPER_FULL_ENV


def paper_scale(subset: Any, full: Any) -> Any:
    """The ``paper`` settings: the labelled subset, or the full grid when ``NETOPTIMA_PAPER_FULL=1`` (or the older
    ``NETOPTIMA_MUP_FULL=1``)."""
    import os

    return full if os.environ.get(FULL_ENV) == "1" else paper_subset(subset, full)
