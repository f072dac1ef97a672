"""emotion-edge conversion: Keras -> full-integer int8 TFLite, parity check, model card."""

__version__ = "0.1.0"
