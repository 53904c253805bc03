"""``save`` / ``load``: a model as its state dict plus the constructor's name and JSON arguments — never pickled code.

The file is ``torch.save`` of a plain dict ``{"format": FORMAT, "spec": <JSON string>, "state_dict": {...}}``, so
``torch.load(path, weights_only=True)`` reads it and :func:`load` rebuilds the model from the spec. The spec is a
tree of nodes ``{"class": "module:QualName", "config": {...}}``; an ``nn.Sequential`` node lists its children
with their names (``{"class": "torch.nn.modules.container:Sequential", "children": [[name, node], ...]}``).

Constructible classes are those in a registry (:func:`register_model`): ``nn.Linear``, the elementwise
activations, ``netoptima.models.Quadratic`` and ``TwoLayerReLUNTK``, and (registered by name, imported only when a
file needs them) ``QuadraticActivationNet``, ``SoftmaxClassifier``, ``SoftmaxLM``, ``DEQLinear`` and CoGO's
``QuadraticNet``; a part adds its own class with one call. A bare state dict written by
``netoptima.convex.save_net`` is read by that part's ``load_net``. Which parameters are frozen
(``requires_grad=False``) and the train/eval mode are stored and restored too.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["FORMAT", "load", "register_model", "save"]

FORMAT = "netoptima.model/1"
_SEQ = "torch.nn.modules.container:Sequential"

ToConfig = Callable[[nn.Module], dict[str, Any]]
FromConfig = Callable[[dict[str, Any]], nn.Module]
_MODELS: dict[str, tuple[type | None, ToConfig | None, FromConfig | str]] = {}


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def register_model(cls: type | str, to_config: ToConfig | None = None, from_config: FromConfig | str | None = None,
                   ) -> None:
    """Make ``cls`` saveable and loadable.

    Arguments:
        cls: the class, or its name ``"module:QualName"`` (then only loadable, imported when a file needs it;
            ignored if the class itself is registered already).
        to_config: model -> JSON-able dict of constructor arguments (default: ``{}``).
        from_config: dict -> a fresh model whose state dict has the same keys (default: ``cls(**config)``);
            may be a ``"module:function"`` name.
    """
    if isinstance(cls, str):
        if ":" not in cls:
            raise ValueError(f"cls must be a class or a 'module:QualName' string, got {cls!r}")
        if cls not in _MODELS or _MODELS[cls][0] is None:  # never shadows a registration of the class itself
            _MODELS[cls] = (None, to_config, from_config or cls)
        return
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"cls must be an nn.Module subclass, got {cls!r}")
    _MODELS[_name(cls)] = (cls, to_config, from_config or (lambda cfg, _c=cls: _c(**cfg)))


def _linear_config(m: nn.Module) -> dict[str, Any]:
    return {"in_features": m.in_features, "out_features": m.out_features, "bias": m.bias is not None}


def _ntk_config(m: nn.Module) -> dict[str, Any]:
    return {"d": m.d, "width": m.width}


def _builtins() -> None:
    from netoptima.models import Quadratic, TwoLayerReLUNTK

    register_model(nn.Linear, _linear_config)
    for act in (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Identity, nn.SiLU, Quadratic):
        register_model(act, lambda m: {})
    register_model(nn.GELU, lambda m: {"approximate": m.approximate})
    register_model(nn.Softplus, lambda m: {"beta": float(m.beta), "threshold": float(m.threshold)})
    register_model(nn.LeakyReLU, lambda m: {"negative_slope": float(m.negative_slope)})
    register_model(nn.ELU, lambda m: {"alpha": float(m.alpha)})
    register_model(TwoLayerReLUNTK, _ntk_config)


_builtins()


def _spec(module: nn.Module, where: str) -> dict[str, Any]:
    cls = type(module)
    if cls is nn.Sequential:
        return {"class": _SEQ, "children": [[name, _spec(child, f"{where}.{name}" if where else name)]
                                            for name, child in module.named_children()]}
    entry = _MODELS.get(_name(cls))
    if entry is None or (entry[0] is not None and entry[0] is not cls):  # a name registration matches by name
        raise ValueError(f"cannot save {cls.__name__}{f' at {where!r}' if where else ''}: it is not an "
                         "nn.Sequential or a registered class (netoptima.certification.register_model); "
                         f"registered: nn.Sequential, {', '.join(sorted(k.split(':')[1] for k in _MODELS))}")
    config = entry[1](module) if entry[1] is not None else {}
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the constructor arguments of {cls.__name__} must be JSON-able: {exc}") from None
    return {"class": _name(cls), "config": config}


def save(model: nn.Module, path: str | Path) -> Path:
    """Write ``model`` to ``path``: its state dict, its constructor's name and JSON arguments, frozen parameters,
    train/eval mode and dtype. Read it back with :func:`load` (``torch.load(..., weights_only=True)`` inside).

    Raises:
        ValueError: the model (or a submodule) is neither an ``nn.Sequential`` nor a registered class, or its
            parameters do not share one floating dtype.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    spec = _spec(model, "")
    tensors = list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise ValueError(f"the model's parameters must share one dtype to be saved, got {sorted(map(str, dtypes))}")
    header = {"spec": spec, "dtype": str(dtypes.pop()).replace("torch.", "") if dtypes else None,
              "frozen": [k for k, p in model.named_parameters() if not p.requires_grad],
              "training": model.training}
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path {str(path)!r} is a directory; give a file name such as model.pt")
    if not path.parent.is_dir():
        raise ValueError(f"path {str(path)!r}: its directory {str(path.parent)!r} does not exist or is a file")
    # atomic: a reader never sees half a model file
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        torch.save({"format": FORMAT, "spec": json.dumps(header), "state_dict": state}, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    return path


def _build(node: Any, where: str) -> nn.Module:
    if not isinstance(node, dict) or not isinstance(node.get("class"), str):
        raise ValueError(f"malformed model spec at {where or 'the root'!r}: {node!r:.100}")
    name = node["class"]
    if name == _SEQ:
        children = node.get("children")
        if not isinstance(children, list) or not all(isinstance(c, list) and len(c) == 2 for c in children):
            raise ValueError(f"malformed nn.Sequential spec at {where or 'the root'!r}")
        return nn.Sequential(OrderedDict((str(k), _build(v, f"{where}.{k}" if where else str(k)))
                                         for k, v in children))
    entry = _MODELS.get(name)
    if entry is None:
        raise ValueError(f"the file names the class {name!r}, which is not a registered constructible class "
                         "(netoptima.certification.register_model); nothing is imported from a file")
    build = entry[2]
    if isinstance(build, str):
        import importlib

        module, _, qual = build.partition(":")
        obj: Any = importlib.import_module(module)
        for part in qual.split("."):
            obj = getattr(obj, part)
        build = obj if not isinstance(obj, type) else (lambda cfg, _c=obj: _c(**cfg))
    config = node.get("config", {})
    if not isinstance(config, dict):
        raise ValueError(f"malformed config for {name!r}: {config!r:.100}")
    try:
        return build(config)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot construct {name} from {config!r:.200}: {exc}") from None


def load(path: str | Path) -> nn.Module:
    """Rebuild a model written by :func:`save` (``weights_only=True``: no code is unpickled; only registered
    classes are constructed).

    Raises:
        ValueError: missing or unreadable file, not a :func:`save` file, unknown class, mismatched state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"model file {str(path)!r} does not exist")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a file that is not a weights-only checkpoint
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(f"cannot read {str(path)!r} as a weights-only torch file: {type(exc).__name__}: "
                         f"{msg:.200}") from None
    if isinstance(blob, dict) and set(blob) == {"U", "alpha", "activation"}:  # netoptima.convex.save_net's file
        from netoptima.convex import load_net

        return load_net(path)
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        what = sorted(map(str, blob))[:8] if isinstance(blob, dict) else type(blob).__name__
        raise ValueError(f"{str(path)!r} is not a model saved by netoptima.save (format {FORMAT!r}); it holds "
                         f"{what} — a bare state dict does not say which class to build")
    try:
        header = json.loads(blob["spec"])
        state = blob["state_dict"]
        spec, frozen = header["spec"], header.get("frozen", [])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{str(path)!r}: malformed netoptima model file ({exc})") from None
    model = _build(spec, "")
    dtype = header.get("dtype")
    if dtype is not None:
        if dtype not in ("float16", "bfloat16", "float32", "float64"):
            raise ValueError(f"{str(path)!r}: unsupported dtype {dtype!r}")
        model = model.to(getattr(torch, dtype))
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as exc:
        msg = str(exc).strip().splitlines()
        raise ValueError(f"{str(path)!r}: the state dict does not fit the rebuilt model: "
                         f"{' '.join(msg[:3]):.300}") from None
    params = dict(model.named_parameters())
    for k, p in params.items():
        p.requires_grad_(k not in frozen)
    model.train(bool(header.get("training", True)))
    return model
