"""``netoptima.certify``: how far is this network from the global optimum of its training objective?

``certify(model, X, y, *, loss=None, tol=1e-6, **options) -> Certificate`` dispatches on the model's class
through a registry users and parts extend with ``register_certifier(cls, fn)``; ``save`` / ``load`` store a
model as its state dict plus its constructor's name and JSON arguments (read with ``weights_only=True``).

Registered here (by name: a part is imported only when one of its models is certified or loaded):

- ``torch.nn.Module``: any differentiable model, squared loss: the PL / NTK diagnosis, and the exact last-layer
  optimum with ``last_layer=True`` (``netoptima.certification.squared``);
- ``netoptima.convex.QuadraticActivationNet``: the trust-region dual (``.quadratic``, option ``beta``);
- ``netoptima.explicit.SoftmaxClassifier`` / ``SoftmaxLM``, and ``nn.Linear`` with ``loss="cross_entropy"``: the
  Fenchel dual of the softmax layer (``.softmax``);
- ``netoptima.deq.DEQLinear``: the linear model's optimum on the features, an exact gap (``.deq``);
- ``netoptima.cogo.QuadraticNet``: lower bound 0 (attained from width 2d − 1), the loss split over the Fourier
  frequencies and each frequency's closest construction (``.cogo``).

Every other object: :class:`NotCertifiable` naming its class and the supported ones.
"""

from netoptima.certification.cogo import register_cogo_model
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
from netoptima.certification.deq import register_deq_model
from netoptima.certification.io import load, register_model, save
from netoptima.certification.quadratic import _build as _quadratic_build
from netoptima.certification.quadratic import _config as _quadratic_config
from netoptima.certification.softmax import register_softmax_models

__all__ = ["LOSSES", "Certificate", "NotCertifiable", "certifier_for", "certify", "load", "make_certificate",
           "register_certifier", "register_model", "registered_certifiers", "save"]

# built-in certifiers, by name: resolved at the first certification of a matching model
register_certifier("torch.nn.modules.module:Module", "netoptima.certification.squared:certify_module")
register_certifier("torch.nn.modules.linear:Linear", "netoptima.certification.softmax:certify_linear")
register_certifier("netoptima.convex.model:QuadraticActivationNet",
                   "netoptima.certification.quadratic:certify_quadratic")
register_certifier("netoptima.explicit.models:SoftmaxClassifier", "netoptima.certification.softmax:certify_softmax")
register_certifier("netoptima.explicit.models:SoftmaxLM", "netoptima.certification.softmax:certify_softmax")
register_certifier("netoptima.deq.model:DEQLinear", "netoptima.certification.deq:certify_deq")
register_certifier("netoptima.cogo.model:QuadraticNet", "netoptima.certification.cogo:certify_cogo")

# their models, for netoptima.save / load (also by name)
register_model("netoptima.convex.model:QuadraticActivationNet", _quadratic_config, _quadratic_build)
register_softmax_models()
register_deq_model()
register_cogo_model()
