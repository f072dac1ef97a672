"""Find a model by name (`emotion5`) or path, in the places a checkout or a Pi install keeps them.

Search order: an explicit path; `$EMOTION_EDGE_MODELS`; the `models/` folder of the source
checkout this package runs from; `/opt/emotion-edge/models`; `/usr/share/emotion-edge/models`.
"""

from __future__ import annotations

import os
from pathlib import Path

from emotion_device.errors import UserError
from emotion_device.labels import DEFAULT_LABEL_SET

DEFAULT_MODEL = DEFAULT_LABEL_SET
class ModelNotFound(UserError, FileNotFoundError):
    """No model file of that name or path."""


SYSTEM_MODEL_DIRS = (Path("/opt/emotion-edge/models"), Path("/usr/share/emotion-edge/models"))


def model_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("EMOTION_EDGE_MODELS"):
        dirs.append(Path(os.environ["EMOTION_EDGE_MODELS"]))
    checkout = Path(__file__).resolve().parents[3] / "models"  # device/src/emotion_device/..
    dirs.append(checkout)
    dirs.extend(SYSTEM_MODEL_DIRS)
    return dirs


def resolve_model(name_or_path: str | os.PathLike = DEFAULT_MODEL) -> Path:
    """Return the .tflite for a model name or path, or raise ModelNotFound naming where it looked."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".tflite" or candidate.parent != Path("."):
        if candidate.is_file():
            return candidate
        raise ModelNotFound(f"model file {candidate} not found")
    searched = []
    for folder in model_dirs():
        path = folder / f"{candidate.name}.tflite"
        if path.is_file():
            return path
        searched.append(str(folder))
    raise ModelNotFound(
        f"model {str(name_or_path)!r} not found; looked in {', '.join(searched)} "
        "(set $EMOTION_EDGE_MODELS or pass a path to a .tflite)")
