"""μP and the other abc-parametrizations (SP, NTP, mean-field): feature movement, diversity, convergence, transfer.

Seed paper: Chen, Yang, Zhao, Gu (2025), "Global Convergence and Rich Feature Learning in L-Layer
Infinite-Width Neural Networks under μP Parametrization"; the abc-parametrizations of Tensor Programs IV and
the μP of Tensor Programs V / microsoft/mup. Claims: ``netoptima reproduce mup``.

Inside this package ``import mup`` means the PyPI ``mup`` package (microsoft/mup), used by :mod:`.mup_twin`.
"""

from netoptima.mup.coord import coord_check, coord_slopes
from netoptima.mup.data import load_images, standardize
from netoptima.mup.features import feature_change, feature_gram_min_eig
from netoptima.mup.models import MLP, PARAMETRIZATIONS, ScaledLinear, abc, abc_exponents, layer_abc, param_groups
from netoptima.mup.mup_twin import mup_twin
from netoptima.mup.plots import plot_coord_check
from netoptima.mup.train import SGDResult, sgd_step, train_sgd
from netoptima.mup.transfer import best_log2_lr, lr_regret

__all__ = [
    "MLP", "PARAMETRIZATIONS", "SGDResult", "ScaledLinear", "abc", "abc_exponents", "best_log2_lr", "coord_check",
    "coord_slopes", "feature_change", "feature_gram_min_eig", "layer_abc", "load_images", "lr_regret", "mup_twin",
    "param_groups", "plot_coord_check", "sgd_step", "standardize", "train_sgd",
]
