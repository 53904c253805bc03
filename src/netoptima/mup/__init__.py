"""Parametrizations SP / NTP / μP / mean-field: feature movement, feature diversity, global convergence.

Seed paper: Chen, Yang, Zhao, Gu (2025), "Global Convergence and Rich Feature Learning in L-Layer
Infinite-Width Neural Networks under μP Parametrization"; the abc-parametrizations of Tensor Programs IV and
the μP of Tensor Programs V / microsoft/mup. Claims: ``netoptima reproduce mup``.
"""

from netoptima.mup.coord import coord_check, coord_slopes, plot_coord_check
from netoptima.mup.features import feature_change, feature_gram_min_eig
from netoptima.mup.models import (
    ABC,
    ACTIVATIONS,
    MLP,
    PARAMETRIZATIONS,
    ScaledLinear,
    abc,
    abc_exponents,
    layer_abc,
    param_groups,
)
from netoptima.mup.mup_twin import MupMLP, mup_effective_weights, mup_twin
from netoptima.mup.training import load_images, sgd_step, standardize, train_sgd

__all__ = [
    "ABC", "ACTIVATIONS", "MLP", "MupMLP", "PARAMETRIZATIONS", "ScaledLinear", "abc", "abc_exponents",
    "coord_check", "coord_slopes", "feature_change", "feature_gram_min_eig", "layer_abc", "load_images",
    "mup_effective_weights", "mup_twin", "param_groups", "plot_coord_check", "sgd_step", "standardize", "train_sgd",
]
