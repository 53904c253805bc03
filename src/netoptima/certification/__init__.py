"""``netoptima.certify``: how far is this network from the global optimum of its training objective?

``certify(model, X, y, *, loss=None, tol=1e-6, **options) -> Certificate`` dispatches on the model's class
through a registry users and parts extend with ``register_certifier(cls, fn)``; ``save`` / ``load`` store a
model as its state dict plus its constructor's name and JSON arguments (read with ``weights_only=True``).

Registered here: ``torch.nn.Module`` (any differentiable model, squared loss: the PL / NTK diagnosis, and the
exact last-layer optimum with ``last_layer=True``; ``netoptima.certification.squared``).
"""

from netoptima.certification.core import (
    LOSSES,
    Certificate,
    NotCertifiable,
    certifier_for,
    certify,
    make_certificate,
    register_certifier,
    registered_certifiers,
)
from netoptima.certification.io import load, register_model, save

__all__ = ["LOSSES", "Certificate", "NotCertifiable", "certifier_for", "certify", "load", "make_certificate",
           "register_certifier", "register_model", "registered_certifiers", "save"]

# built-in certifiers, by name: resolved at the first certification of a matching model
register_certifier("torch.nn.modules.module:Module", "netoptima.certification.squared:certify_module")
