"""Exact convex training of quadratic-activation networks (Bartan & Pilanci, "Neural Spectrahedra and
Semidefinite Lifts"): the SDP lift, neural decomposition, a certificate of global optimality that needs no
SDP (one trust-region subproblem), and a global solver built on it (spec convex.md §3.1–3.6)."""

from netoptima.convex.backprop import OPTIMIZERS, BackpropResult, fit_backprop
from netoptima.convex.certificate import Certificate, CorrelationOracle, certificate
from netoptima.convex.cli import certify_cli, load_net, save_net
from netoptima.convex.data import one_vs_all_targets, planted_demo, unit_rows
from netoptima.convex.decomposition import neural_decomposition, rank_one_decomposition
from netoptima.convex.model import (
    LOSSES,
    PAPER_ACTIVATION,
    RELU_FIT_ACTIVATION,
    QuadraticActivationNet,
    objective,
)
from netoptima.convex.sdp import (
    LiftedProblemTooLarge,
    SDPResult,
    SolverFailed,
    fit_sdp,
    lift,
    lifted_dimension,
    lifted_objective,
    lifted_predictions,
)
from netoptima.convex.solver import GlobalResult, fit_global, fit_one_vs_all, predict_one_vs_all
from netoptima.convex.trs import TRSSolution, sphere_extrema, trs_max

__all__ = [
    "LOSSES", "OPTIMIZERS", "PAPER_ACTIVATION", "RELU_FIT_ACTIVATION", "BackpropResult", "Certificate",
    "CorrelationOracle", "GlobalResult", "LiftedProblemTooLarge", "QuadraticActivationNet", "SDPResult",
    "SolverFailed", "TRSSolution", "certificate", "certify_cli", "fit_backprop", "fit_global", "fit_one_vs_all",
    "fit_sdp", "lift", "lifted_dimension", "lifted_objective", "lifted_predictions", "load_net",
    "neural_decomposition", "objective", "one_vs_all_targets", "planted_demo", "predict_one_vs_all",
    "rank_one_decomposition", "save_net", "sphere_extrema", "trs_max", "unit_rows",
]
