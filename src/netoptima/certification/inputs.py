"""Validation shared by the certifiers: a clear ``ValueError`` naming the argument, never a traceback from inside
the model or linear algebra."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["check_deterministic", "check_finite_parameters", "forward", "model_dtype", "regression_targets",
           "to_tensor"]


def model_dtype(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    """The floating dtype and device of the model's parameters (ValueError if it has none, or mixed dtypes)."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    params = list(model.parameters())
    if not params:
        raise ValueError(f"model ({type(model).__name__}) has no parameters to certify")
    dtypes = {p.dtype for p in params}
    if len(dtypes) > 1 or not params[0].is_floating_point():
        raise ValueError(f"the model's parameters must share one floating dtype, got {sorted(map(str, dtypes))}")
    return params[0].dtype, params[0].device


def to_tensor(name: str, value: Any, dtype: torch.dtype, device: torch.device, *, rows: int | None = None,
              ) -> Tensor:
    """``value`` (tensor, array, nested list) as a finite tensor of ``dtype`` with samples on axis 0."""
    if isinstance(value, Tensor):
        t = value.detach()
    else:
        try:
            arr = np.asarray(value)
        except Exception as exc:
            raise ValueError(f"{name} must be a tensor or an array, got {type(value).__name__}: {exc}") from None
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise ValueError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_complex():
        raise ValueError(f"{name} must be real, got dtype {t.dtype}")
    if t.ndim == 0 or t.shape[0] == 0:
        raise ValueError(f"{name} must have at least one sample on axis 0, got shape {tuple(t.shape)}")
    if rows is not None and t.shape[0] != rows:
        raise ValueError(f"{name} has {t.shape[0]} rows but X has {rows} samples (shape {tuple(t.shape)})")
    t = t.to(dtype=dtype, device=device)
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        raise ValueError(f"{name} must be finite; it has {int(bad.sum())} NaN or infinite entries")
    return t


def check_finite_parameters(model: nn.Module) -> None:
    bad = [name for name, p in model.named_parameters() if not bool(torch.isfinite(p).all())]
    if bad:
        raise ValueError(f"the model's parameters must be finite; {', '.join(bad)} hold NaN or infinite values")


def check_deterministic(model: nn.Module) -> None:
    """A model in training mode with active Dropout or BatchNorm is random or batch-dependent: refuse it."""
    if not model.training:
        return
    for name, m in model.named_modules():
        active_dropout = isinstance(m, nn.modules.dropout._DropoutNd) and m.training and m.p > 0
        if active_dropout or (isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training):
            raise ValueError(f"the model is in training mode with {type(m).__name__} at {name!r}: its output is "
                             "random or depends on the batch; call model.eval() to certify the deterministic network")


def forward(model: nn.Module, X: Tensor) -> Tensor:
    """model(X) without autograd, as (n, c); a model that cannot take X is a ValueError naming X's shape."""
    n = X.shape[0]
    first = _first_linear(model)
    if first is not None and (X.ndim != 2 or X.shape[1] != first.in_features):
        raise ValueError(f"X must have shape (n, {first.in_features}) to match the model's first nn.Linear, "
                         f"got shape {tuple(X.shape)}")
    try:
        with torch.no_grad():
            out = model(X)
    except (RuntimeError, ValueError, IndexError, TypeError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"the model cannot be applied to X of shape {tuple(X.shape)}: {msg}") from None
    if not isinstance(out, Tensor) or out.ndim == 0 or out.shape[0] != n:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"the model's output on X must have the {n} samples on axis 0, got {shape}")
    out = out.reshape(n, -1)
    if not bool(torch.isfinite(out).all()):
        raise ValueError("the model's output on X is not finite (NaN or inf); nothing can be certified")
    return out


def regression_targets(y: Tensor, out: Tensor) -> Tensor:
    """y reshaped to the (n, c) of the model's output, or a ValueError naming both shapes."""
    n, c = out.shape
    if y.numel() != n * c:
        raise ValueError(f"y has shape {tuple(y.shape)} but the model's output on X has {c} value"
                         f"{'s' if c > 1 else ''} per sample (shape ({n}, {c})); y must be (n,) or (n, c)")
    return y.reshape(n, c)


def _first_linear(model: nn.Module) -> nn.Linear | None:
    """The first layer when the model is an nn.Sequential (possibly nested) starting with an nn.Linear."""
    m: nn.Module = model
    while isinstance(m, nn.Sequential) and type(m).forward is nn.Sequential.forward and len(m):
        m = m[0]
    return m if type(m) is nn.Linear else None
