"""Deep equilibrium linear models with weight tying (Kawaguchi 2021): root-finding forward, implicit gradients,
linear convergence to the global optimum, and the trust-region Newton link (spec explicit_deq.md, part B).

Further public names live in the modules: ``netoptima.deq.train`` (``rate_check``, ``lambda_min_gram``, ``LOSSES``),
``netoptima.deq.solvers`` (``BACKENDS``, ``check_gamma``), ``netoptima.deq.analysis`` (``shallow_square_grad``),
``netoptima.deq.data`` (``pooled_mnist``), ``netoptima.deq.model`` (``NORMALIZE``).
"""

from netoptima.deq.analysis import function_space_preconditioner, trust_region_step
from netoptima.deq.data import synthetic
from netoptima.deq.model import DEQLinear, ImplicitEquilibrium, equilibrium, stochastic, unrolled_equilibrium
from netoptima.deq.solvers import SOLVERS, NotConverged, SolverInfo, solve_equilibrium
from netoptima.deq.train import (
    GDResult,
    LinearOptimum,
    Trajectory,
    lambda_min_UtU,
    linear_optimum,
    loss_value,
    train_deq,
    train_params,
)

__all__ = [
    "DEQLinear", "GDResult", "ImplicitEquilibrium", "LinearOptimum", "NotConverged", "SOLVERS", "SolverInfo",
    "Trajectory", "equilibrium", "function_space_preconditioner", "lambda_min_UtU", "linear_optimum", "loss_value",
    "solve_equilibrium", "stochastic", "synthetic", "train_deq", "train_params", "trust_region_step",
    "unrolled_equilibrium",
]
