"""emotion-edge workstation training: datasets, architectures, fitting and evaluation."""

__version__ = "0.1.0"
