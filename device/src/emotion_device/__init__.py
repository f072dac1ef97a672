"""emotion-edge device runtime: camera -> faces -> int8 emotion scores -> sinks, without TensorFlow."""

__version__ = "0.1.0"
