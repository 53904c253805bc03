"""Run functions behind the ``mup.*`` claims: each a pure function of a JSON-able config returning JSON data.

The claims map them over widths / parametrizations / learning rates with ``runner.map`` (resumable, local
processes or Dask). Every config carries every setting (written once, in the claim's settings) and ``device``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from netoptima.conventions import TrainingDiverged, check_choice
from netoptima.mup.coord import coord_check
from netoptima.mup.data import load_images
from netoptima.mup.features import feature_change, feature_gram_min_eig
from netoptima.mup.models import MLP
from netoptima.mup.train import mse_loss, train_sgd
from netoptima.sweep import run_fn

__all__ = ["LR_RULES", "VARIANTS", "by_variant", "coord_run", "convergence_run", "effective_lr", "feature_run",
           "last_layer_gradient", "lr_run"]

# "table": η (n/n0)^{-c} exactly as the abc-table says; "inverse_width": an extra n0/n, the largest stable
# scaling of SP (TP IV: SP with a width-independent η has r < 0 and blows up as n grows).
LR_RULES: tuple[str, ...] = ("table", "inverse_width")
# label -> (parametrization, lr rule) of the feature runs. SP runs at its largest stable rate η·n0/n; "SP (η const)"
# is the table's c = 0 (shown in the figures, in no rule).
VARIANTS: dict[str, tuple[str, str]] = {"SP": ("sp", "inverse_width"), "NTP": ("ntp", "table"), "μP": ("mup", "table"),
                                        "MF": ("mf", "table"), "SP (η const)": ("sp", "table")}
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
    return {prefix + k[3:]: v for k, v in stats.items()}  # "lam_n" -> "lam0_n"


@run_fn(version=1)
def feature_run(config: dict[str, Any]) -> dict[str, Any]:
    """Train one MLP with SGD and measure every hidden layer's features on a fixed probe set (Fig. 1).

    Config keys: ``parametrization``, ``lr_rule``, ``width``, ``lr``, ``steps``, ``batch``, ``n_train``,
    ``n_probe``, ``seed``, ``depth``, ``activation``, ``base_width``, ``dataset``, ``data_seed``, ``device``.

    Returns:
        ``change``: median over probes of ‖x^l − x^l_0‖/‖x^l_0‖ per hidden layer; ``lam``/``lam_n``/``lam_rel``
        and ``lam0``/``lam0_n``/``lam0_rel``: λ_min(K), λ_min(K/n), λ_min/mean eigenvalue after training and
        at init; ``loss0``/``loss``: full training loss before/after; ``diverged`` (then metrics are None).
    """
    Xtr, Ytr = _data(config, "n_train", "train")
    Xp, _ = _data(config, "n_probe", "test")
    model = _model(config, Xtr.shape[1])
    with torch.no_grad():
        feats0 = model.features(Xp)
        loss0 = float(mse_loss(model(Xtr), Ytr))
    init = _prefixed(_gram_stats(feats0), "lam0")
    failed = {"diverged": True, "loss0": loss0, "loss": None, "change": None, "lam": None, "lam_n": None,
              "lam_rel": None, **init}
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
    return {"diverged": False, "loss0": loss0, "loss": loss, "change": change, **_gram_stats(feats), **init}


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
