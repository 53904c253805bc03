"""The certificate, the registry of certifiers and the front door ``certify``.

A *certifier* is a function ``fn(model, X, y, *, loss, tol, **options) -> Certificate`` registered for a model
class with :func:`register_certifier`. :func:`certify` walks ``type(model).__mro__`` and calls the certifier of
the most specific registered class. Registration takes a class, or its name ``"module:QualName"``, and a
function, or its name ``"module:function"``: a name is resolved only when a model of that class is certified,
so the package never imports a part (or CVXPY) just to know that the part can certify something. A part's
certifier is then one line::

    register_certifier("netoptima.convex.model:QuadraticActivationNet", "netoptima.convex.certify:certifier")
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netoptima.conventions import check_choice, check_real

__all__ = ["LOSSES", "Certificate", "NotCertifiable", "certifier_for", "certify", "make_certificate",
           "register_certifier", "registered_certifiers"]

LOSSES = ("mse", "cross_entropy", "huber")

Certifier = Callable[..., "Certificate"]


@dataclass(frozen=True)
class Certificate:
    """How far a model is from the global optimum of its training objective.

    ``lower_bound ≤ L* ≤ objective`` holds whenever the ``assumptions`` hold (L* is the global optimum of the
    objective the certifier names in ``details["objective_formula"]``).

    Attributes:
        objective: the objective at the model's current parameters.
        lower_bound: a lower bound on the global optimum L*.
        gap: objective − lower_bound (≥ 0 up to rounding): how far above the global optimum the model can be.
        relative_gap: gap / |objective| (0 when both are 0).
        certified: gap ≤ tol · max(1, |objective|): absolute for objectives up to 1, relative above.
        method: the certifier's name (e.g. ``"squared_loss_pl"``).
        assumptions: the conditions the bound relies on, in words.
        details: JSON-able numbers and words: the quantities behind the bound and, when not certified, the
            reason (``details["reason"]``).
    """

    objective: float
    lower_bound: float
    gap: float
    relative_gap: float
    certified: bool
    method: str
    assumptions: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.assumptions, tuple) or not all(isinstance(a, str) for a in self.assumptions):
            raise ValueError(f"assumptions must be a tuple of strings, got {self.assumptions!r}")
        try:
            json.dumps(self.details)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"details must be JSON-able: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON dict (non-finite floats as the strings ``"inf"``, ``"-inf"``, ``"nan"``)."""
        return _json_safe({"objective": self.objective, "lower_bound": self.lower_bound, "gap": self.gap,
                           "relative_gap": self.relative_gap, "certified": self.certified, "method": self.method,
                           "assumptions": list(self.assumptions), "details": self.details})

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    def __str__(self) -> str:
        rows = [("objective", f"{self.objective:.10g}"), ("lower bound", f"{self.lower_bound:.10g}"),
                ("gap", f"{self.gap:.3e} (relative {self.relative_gap:.3e})"),
                ("certified", "yes" if self.certified else "no"), ("method", self.method)]
        if "reason" in self.details:
            rows.append(("reason", str(self.details["reason"])))
        rows += [("assumption" if i == 0 else "", a) for i, a in enumerate(self.assumptions)]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def make_certificate(objective: float, lower_bound: float, *, tol: float, method: str,
                     assumptions: tuple[str, ...] | list[str], details: dict[str, Any],
                     reason: str | None = None) -> Certificate:
    """Build a :class:`Certificate`: gap, relative gap and ``certified`` are computed here, the same way for every
    certifier (``certified`` = gap ≤ tol · max(1, |objective|), False when a number is not finite).

    ``reason`` (why the model is not certified, or what is not available) goes to ``details["reason"]``.
    """
    objective, lower_bound = float(objective), float(lower_bound)
    gap = objective - lower_bound
    scale = abs(objective)
    relative = gap / scale if scale > 0 else (0.0 if gap == 0 else math.inf)
    certified = bool(math.isfinite(gap) and math.isfinite(objective) and gap <= tol * max(1.0, scale))
    details = dict(details)
    if reason is not None:
        details["reason"] = reason
    details.setdefault("tol", tol)
    return Certificate(objective=objective, lower_bound=lower_bound, gap=gap, relative_gap=relative,
                       certified=certified, method=method, assumptions=tuple(assumptions), details=details)


class NotCertifiable(ValueError):
    """No certifier is registered for the model's class (names the class and the supported ones)."""

    def __init__(self, model: Any) -> None:
        self.model_class = type(model)
        supported = ", ".join(registered_certifiers()) or "none"
        super().__init__(f"no certifier for {_name(type(model))} (a {type(model).__name__} is neither a registered "
                         f"class nor a subclass of one); supported: {supported}. Register one with "
                         "netoptima.register_certifier(cls, fn)")


# class object or "module:QualName" -> certifier or "module:function"; later registrations win
_REGISTRY: dict[type | str, Certifier | str] = {}


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def register_certifier(cls: type | str, fn: Certifier | str) -> None:
    """Register ``fn`` as the certifier of ``cls`` and its subclasses (unless a subclass has its own).

    Arguments:
        cls: a class, or its name ``"module:QualName"`` (matched against the model's MRO without importing).
        fn: ``fn(model, X, y, *, loss, tol, **options) -> Certificate``, or its name ``"module:function"``
            (imported at the first certification). ``loss`` is ``None`` (the model class's own objective) or a
            name from :data:`LOSSES`; the certifier raises ``ValueError`` for a loss it does not support.
            Build the result with :func:`make_certificate` so that ``certified`` means the same everywhere.
    """
    if isinstance(cls, str):
        if ":" not in cls:
            raise ValueError(f"cls must be a class or a 'module:QualName' string, got {cls!r}")
    elif not isinstance(cls, type):
        raise ValueError(f"cls must be a class or a 'module:QualName' string, got {cls!r}")
    if isinstance(fn, str):
        if ":" not in fn:
            raise ValueError(f"fn must be callable or a 'module:function' string, got {fn!r}")
    elif not callable(fn):
        raise ValueError(f"fn must be callable or a 'module:function' string, got {fn!r}")
    _REGISTRY.pop(cls, None)  # re-registration moves to the end (latest wins among equal names)
    _REGISTRY[cls] = fn


def registered_certifiers() -> list[str]:
    """The registered classes as ``"module:QualName"``."""
    return [k if isinstance(k, str) else _name(k) for k in _REGISTRY]


def _resolve(fn: Certifier | str) -> Certifier:
    if not isinstance(fn, str):
        return fn
    module, _, qual = fn.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


def certifier_for(model: Any) -> tuple[type, Certifier]:
    """(the registered class that matched, its certifier) for ``model``; raises :class:`NotCertifiable`."""
    for klass in type(model).__mro__:
        name = _name(klass)
        hits = [key for key in _REGISTRY if key is klass or key == name]
        if hits:
            return klass, _resolve(_REGISTRY[hits[-1]])
    raise NotCertifiable(model)


def _check_options(fn: Certifier, options: dict[str, Any], klass: type) -> None:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    allowed = [k for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY
               and k not in ("loss", "tol")]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for the "
                         f"certifier of {klass.__name__}; it accepts {', '.join(map(repr, allowed)) or 'none'}")


def certify(model: Any, X: Any, y: Any, *, loss: str | None = None, tol: float = 1e-6, **options: Any,
            ) -> Certificate:
    """How far is ``model`` from the global optimum of its training objective on (X, y)?

    Dispatches on the model's class (:func:`register_certifier`; the most specific class in its MRO wins) and
    returns a :class:`Certificate` with ``lower_bound ≤ L* ≤ objective`` under its ``assumptions``.
    ``certified`` is gap ≤ tol · max(1, |objective|).

    Losses, with n the number of samples, f_i = model(x_i) ∈ R^c, r = f − y:

    - ``"mse"``: L = ‖f − y‖²/(2n) = (1/(2n)) Σ_i Σ_k (f_ik − y_ik)² — half the squared error summed over the
      outputs, averaged over samples (``nn.MSELoss()``, which averages over all n·c entries, equals 2L/c).
      Regulariser: none, or with ``weight_decay=λ`` the term (λ/2)‖θ‖² over the trainable parameters (what
      ``torch.optim.SGD(weight_decay=λ)`` adds to the gradient).
    - ``"cross_entropy"``: L = (1/n) Σ_i −log softmax(f_i)_{y_i} with integer labels y (``nn.CrossEntropyLoss()``,
      mean reduction), regulariser (λ/2)‖W‖²_F when ``weight_decay=λ`` is given.
    - ``"huber"``: L = (1/n) Σ_i Σ_k h_δ(r_ik), h_δ(t) = t²/2 for |t| ≤ δ and δ(|t| − δ/2) beyond
      (``nn.HuberLoss(delta=δ, reduction="sum") / n``), same regulariser.
    - ``None``: the model class's own objective, named in ``details["objective_formula"]`` (``"mse"`` for a
      generic ``nn.Module``).

    Certifiers registered here (options in their docstrings):

    - any ``nn.Module`` with the squared loss: the PL / NTK diagnosis, lower bound 0, ``last_layer=True`` for the
      exact optimum of the last ``nn.Linear`` on the current features (``netoptima.certification.squared``);
    - ``netoptima.convex.QuadraticActivationNet`` (option ``beta``, required): the trust-region dual, a lower bound
      on the SDP optimum (``.quadratic``);
    - ``netoptima.explicit.SoftmaxClassifier`` / ``SoftmaxLM`` and ``nn.Linear`` with ``loss="cross_entropy"``
      (options ``weight_decay``, ``bias_decay``): the Fenchel dual of the softmax layer (``.softmax``);
    - ``netoptima.deq.DEQLinear`` (``"mse"`` or ``"cross_entropy"``): the linear model's optimum on the features,
      an exact gap (``.deq``);
    - ``netoptima.cogo.QuadraticNet`` (the projected squared loss, ``"mse"``): lower bound 0, attained from width
      2d − 1, with the loss split over the Fourier frequencies on the full grid (``.cogo``).

    Arguments:
        model: the network (an ``nn.Module`` for the built-in certifier).
        X: inputs, (n, ...) tensor or array; converted to the model's parameter dtype and device.
        y: targets with n rows (for ``"mse"``: (n,) or (n, c) matching the model's outputs).
        loss: ``"mse"``, ``"cross_entropy"``, ``"huber"`` or ``None``.
        tol: the gap (absolute up to objective 1, relative above) below which the model counts as certified.
        options: passed to the certifier; an option it does not take is a ``ValueError``.

    Raises:
        NotCertifiable: no certifier is registered for the model's class (a ``ValueError``).
        ValueError: a bad argument (named), a loss the certifier does not support, mismatched shapes, NaN or
            infinite values in X, y or the parameters.
    """
    tol = check_real("tol", tol, low=0.0)
    if loss is not None:
        check_choice("loss", loss, LOSSES)
    klass, fn = certifier_for(model)
    _check_options(fn, options, klass)
    cert = fn(model, X, y, loss=loss, tol=tol, **options)
    if not isinstance(cert, Certificate):
        raise TypeError(f"the certifier of {klass.__name__} returned {type(cert).__name__}, not a Certificate")
    return cert
