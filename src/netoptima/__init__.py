"""netoptima: construct, reach and certify global optima of neural networks."""

__version__ = "0.1.0"
