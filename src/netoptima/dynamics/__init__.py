"""Optimizer dynamics in the NTK regime (Bu, Xu, Chen 2021) and Gram-Gauss-Newton (Cai et al. 2019).

* models: the theory's ``TwoLayerReLUNTK`` and the official notebook's ``TwoLayerMLP`` (``RowSpaceMLP``: its
  exact, cheaper row-space form);
* optimizers: ``GD``, ``HeavyBall``, ``Nesterov`` (momentum (k−1)/(k+r−1), restartable), ``HigherMomentum``,
  and ``GramGaussNewton``;
* limiting ODEs in prediction space (``netoptima.dynamics.ode``): ``predicted_error`` (closed forms), its
  numerical oracle ``integrate_error_ode``, the time map ``ode_time``, ``kappa_hb`` and the linearised recursion;
* ``train_full_batch`` and the rate fits; ``notebook_loss_curve`` runs the official notebook. The claims live in
  ``netoptima.dynamics.claims`` (theory), ``claims_notebook`` and ``claims_ggn``.
"""

from netoptima.dynamics.ggn import GramGaussNewton
from netoptima.dynamics.models import NOTEBOOK_SEED, TwoLayerMLP, TwoLayerReLUNTK, theory_output
from netoptima.dynamics.notebook import RowSpaceMLP, make_optimizer, notebook_loss_curve
from netoptima.dynamics.ode import integrate_error_ode, kappa_hb, linearized_error, ode_time, predicted_error
from netoptima.dynamics.optim import GD, HeavyBall, HigherMomentum, Nesterov
from netoptima.dynamics.train import FullBatchResult, fit_exponential_rate, fit_power_exponent, train_full_batch

__all__ = [
    "GD", "FullBatchResult", "GramGaussNewton", "HeavyBall", "HigherMomentum", "NOTEBOOK_SEED", "Nesterov",
    "RowSpaceMLP", "TwoLayerMLP", "TwoLayerReLUNTK", "fit_exponential_rate", "fit_power_exponent",
    "integrate_error_ode", "kappa_hb", "linearized_error", "make_optimizer", "notebook_loss_curve", "ode_time",
    "predicted_error", "theory_output", "train_full_batch",
]
