"""netoptima: construct, reach and certify global optima of neural networks.

``netoptima.certify``, ``register_certifier``, ``Certificate``, ``NotCertifiable``, ``save`` and ``load`` are
imported on first use (``netoptima.certification``), so ``import netoptima`` stays light.
"""

__version__ = "0.1.0"

_LAZY = ("Certificate", "NotCertifiable", "certify", "load", "register_certifier", "save")


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from netoptima import certification

        return getattr(certification, name)
    raise AttributeError(f"module 'netoptima' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
