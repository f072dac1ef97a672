"""Pick a TFLite interpreter: ai-edge-litert, then tflite-runtime, then tensorflow.lite.

Each candidate's Interpreter is *created* inside the try: tflite-runtime imports fine under
numpy 2 but fails on first use, so an import alone proves nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

from emotion_device.errors import UserError
from emotion_device.models import ModelNotFound

log = logging.getLogger(__name__)

# (label, module holding Interpreter, distribution whose version is reported)
RUNTIMES: tuple[tuple[str, str, str], ...] = (
    ("ai-edge-litert", "ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite-runtime", "tflite_runtime.interpreter", "tflite-runtime"),
    ("tensorflow", "tensorflow.lite", "tensorflow-cpu"),
)


class RuntimeUnavailable(UserError, RuntimeError):
    """No TFLite interpreter could be created from any of the known runtimes."""


@dataclass(frozen=True)
class RuntimeInfo:
    name: str
    version: str


def _version(distribution: str, module: Any) -> str:
    for name in (distribution, "tensorflow"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return str(getattr(module, "__version__", "unknown"))


def make_interpreter(model_path: Path, num_threads: int = 1,
                     prefer: str | None = None) -> tuple[Any, RuntimeInfo]:
    """Create and allocate an interpreter for `model_path` from the first runtime that works.

    `prefer` restricts the search to one runtime by its label (for tests and benchmarks).
    Errors about the model itself (corrupt flatbuffer) are raised at once, not masked by the
    fallback, so a broken file is never reported as a missing runtime.
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelNotFound(f"model file {model_path} not found")
    candidates = [r for r in RUNTIMES if prefer in (None, r[0])]
    if not candidates:
        raise ValueError(f"unknown runtime {prefer!r}; known: {', '.join(r[0] for r in RUNTIMES)}")
    failures = []
    for label, module_name, distribution in candidates:
        try:
            module = import_module(module_name)
        except Exception as exc:  # ImportError, or a binary that fails while importing
            failures.append(f"{label}: {exc}")
            continue
        try:
            interpreter = module.Interpreter(model_path=str(model_path), num_threads=num_threads)
        except ValueError as exc:
            raise ValueError(f"{model_path} is not a valid TFLite model: {exc}") from exc
        except Exception as exc:
            failures.append(f"{label}: {exc}")
            continue
        interpreter.allocate_tensors()
        info = RuntimeInfo(label, _version(distribution, module))
        log.debug("interpreter from %s %s", info.name, info.version)
        return interpreter, info
    raise RuntimeUnavailable(
        "no TFLite runtime could be loaded; install ai-edge-litert (pip install ai-edge-litert) "
        "or tflite-runtime. Tried: " + "; ".join(failures)
    )
