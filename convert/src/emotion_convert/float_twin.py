"""Write the float32 TFLite twin of a Keras model, for `emotion-device bench`'s int8-vs-float rows.

Usage: python -m emotion_convert.float_twin models/emotion5.keras out/bench/emotion5.float.tflite
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    import keras

    from emotion_convert.quantize import convert_float, write_bytes

    write_bytes(Path(args[1]), convert_float(keras.models.load_model(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
