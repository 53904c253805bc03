"""Optimizer dynamics in the NTK regime (Bu, Xu, Chen 2021) and Gram-Gauss-Newton (Cai et al. 2019).

* models: the theory's ``TwoLayerReLUNTK`` and the official notebook's ``TwoLayerMLP``;
* optimizers: ``GD``, ``HeavyBall``, ``Nesterov`` (momentum (k−1)/(k+r−1), restartable), ``HigherMomentum``,
  and ``GramGaussNewton``;
* limiting ODEs in prediction space: closed forms (``gd_error``, ``hb_error``, ``nag_error``), their numerical
  oracle ``integrate_error_ode``, the time map ``ode_time`` and the linearised recursion;
* training loops and rate fits; the claims live in ``netoptima.dynamics.claims``.
"""

from netoptima.dynamics.ggn import GramGaussNewton, gram_solve
from netoptima.dynamics.models import NOTEBOOK_SEED, TwoLayerMLP, TwoLayerReLUNTK, theory_output
from netoptima.dynamics.notebook import RowSpaceMLP, make_optimizer, notebook_data, notebook_loss_curve
from netoptima.dynamics.ode import (
    discretization_gap,
    gd_error,
    hb_error,
    hb_gamma,
    integrate_error_ode,
    kappa_hb,
    linearized_error,
    loss_of_error,
    nag_error,
    nag_momentum,
    ode_time,
    predicted_error,
)
from netoptima.dynamics.optim import GD, HeavyBall, HigherMomentum, Nesterov
from netoptima.dynamics.train import fit_exponential_rate, fit_power_exponent, train_full_batch

__all__ = [
    "GD", "GramGaussNewton", "HeavyBall", "HigherMomentum", "NOTEBOOK_SEED", "Nesterov", "RowSpaceMLP",
    "TwoLayerMLP", "TwoLayerReLUNTK", "discretization_gap", "fit_exponential_rate", "fit_power_exponent",
    "gd_error", "gram_solve", "hb_error", "hb_gamma", "integrate_error_ode", "kappa_hb", "linearized_error",
    "loss_of_error", "make_optimizer", "nag_error", "nag_momentum", "notebook_data", "notebook_loss_curve",
    "ode_time", "predicted_error", "theory_output", "train_full_batch",
]
