"""Draw face boxes and labels on a copy of an image (the demo's picture)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from emotion_device.errors import UserError
from emotion_device.face import Face

COLOURS = {  # BGR
    "angry": (40, 40, 220), "disgust": (40, 140, 40), "fear": (160, 60, 160),
    "happy": (40, 200, 240), "sad": (200, 120, 40), "surprise": (240, 160, 40),
    "neutral": (200, 200, 200), "contempt": (90, 90, 160),
}


def annotate(image: np.ndarray, faces: list[Face]) -> np.ndarray:
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    thickness = max(2, round(max(canvas.shape[:2]) / 400))
    scale = max(0.5, max(canvas.shape[:2]) / 1200)
    for face in faces:
        b = face.box
        colour = COLOURS.get(face.label, (255, 255, 255))
        cv2.rectangle(canvas, (b.x, b.y), (b.x + b.w, b.y + b.h), colour, thickness)
        text = f"{face.label} {face.confidence:.0%}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = max(0, b.y - th - base - 4)
        cv2.rectangle(canvas, (b.x, top), (b.x + tw + 4, top + th + base + 4), colour, -1)
        cv2.putText(canvas, text, (b.x + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), thickness, cv2.LINE_AA)
    return canvas


def write_annotated(path: str | Path, image: np.ndarray, faces: list[Face]) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ok, data = cv2.imencode(path.suffix or ".png", annotate(image, faces))
        if not ok:
            raise UserError(f"--annotate {path}: OpenCV cannot write {path.suffix!r} images")
        path.write_bytes(data.tobytes())
    except (OSError, cv2.error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).strip()
        raise UserError(f"--annotate {path}: cannot write it: {reason}") from None
    return path
