"""Explicit (closed-form) solutions of single-layer softmax models (Williams & Zhao 2023, arXiv 2311.07498).

A single-layer softmax model trained with cross-entropy is stationary exactly when XᵀŶ = XᵀY =: F, so its
parameters can be written down from the one-pass statistics F instead of being found by backpropagation.
This package builds the models (:mod:`.models`), the statistics (:mod:`.stats`), the explicit solutions
(:mod:`.solutions`), the reference convex optimum and the backprop trainer (:mod:`.optimize`), the real data
(:mod:`.data`) and the paper's claims (:mod:`.claims`, ids ``explicit.*``; runs in :mod:`.experiments`).
The helpers not listed here (preconditioners, the tempered / one-hot forms, line searches, the synthetic
Markov corpus, ...) are public in their modules.
"""

from netoptima.explicit.data import lm_task, mnist01, shakespeare_lm
from netoptima.explicit.models import SoftmaxClassifier, SoftmaxLM, TwoLayerSoftmax
from netoptima.explicit.optimize import LBFGSResult, TrainResult, accuracy, classifier_loss, lbfgs, lm_loss, train
from netoptima.explicit.solutions import classifier_solution, explicit_solution, sparse_explicit_solution
from netoptima.explicit.stats import compress_contexts, context_windows, cooccurrence, feature_label_counts

__all__ = [
    "LBFGSResult", "SoftmaxClassifier", "SoftmaxLM", "TrainResult", "TwoLayerSoftmax", "accuracy",
    "classifier_loss", "classifier_solution", "compress_contexts", "context_windows", "cooccurrence",
    "explicit_solution", "feature_label_counts", "lbfgs", "lm_loss", "lm_task", "mnist01", "shakespeare_lm",
    "sparse_explicit_solution", "train",
]
