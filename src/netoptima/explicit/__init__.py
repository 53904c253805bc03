"""Explicit (closed-form) solutions of single-layer softmax models (Williams & Zhao 2023, arXiv 2311.07498).

A single-layer softmax model trained with cross-entropy is stationary exactly when XᵀŶ = XᵀY =: F, so its
parameters can be written down from the one-pass statistics F instead of being found by backpropagation.
This package builds the models (:mod:`.models`), the statistics (:mod:`.stats`), the explicit solutions
(:mod:`.solutions`), the reference convex optimum and backprop baselines (:mod:`.optimize`), the real data
(:mod:`.data`) and the paper's claims (:mod:`.claims`, ids ``explicit.*``).
"""

from netoptima.explicit.data import LMTask, lm_task, markov_tokens, mnist01, shakespeare_lm
from netoptima.explicit.models import SoftmaxClassifier, SoftmaxLM, TwoLayerSoftmax
from netoptima.explicit.optimize import (
    LBFGSResult,
    accuracy,
    classifier_loss,
    classifier_preconditioner,
    grad_norm,
    lbfgs,
    lm_loss,
    lm_preconditioner,
    train,
)
from netoptima.explicit.solutions import (
    DEFAULT_SMOOTHING,
    SparseExplicitLM,
    classifier_solution,
    explicit_solution,
    fit_alpha,
    line_search,
    naive_bayes_solution,
    one_hot_solution,
    row_centered_distance,
    sparse_explicit_solution,
    tempered_solution,
)
from netoptima.explicit.stats import (
    ContextCounts,
    compress_contexts,
    context_windows,
    cooccurrence,
    feature_label_counts,
)

__all__ = [
    "DEFAULT_SMOOTHING", "ContextCounts", "LBFGSResult", "LMTask", "SoftmaxClassifier", "SoftmaxLM",
    "SparseExplicitLM", "TwoLayerSoftmax", "accuracy", "classifier_loss", "classifier_preconditioner",
    "classifier_solution", "compress_contexts", "context_windows", "cooccurrence", "explicit_solution",
    "feature_label_counts", "fit_alpha", "grad_norm", "lbfgs", "line_search", "lm_loss", "lm_preconditioner",
    "lm_task", "markov_tokens", "mnist01", "naive_bayes_solution", "one_hot_solution", "row_centered_distance",
    "shakespeare_lm", "sparse_explicit_solution", "tempered_solution", "train",
]
