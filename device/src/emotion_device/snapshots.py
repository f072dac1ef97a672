"""Debug snapshots of face crops: the only code that can put a face image on disk.

It exists to check framing and lighting on a new installation, and does nothing unless
`privacy.debug_snapshots` is set in the config; it then logs a warning at start.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from emotion_device.face import Face
from emotion_device.preprocess import CropSpec, face_crop_48

log = logging.getLogger(__name__)


class SnapshotWriter:
    def __init__(self, folder: str | Path, crop: CropSpec) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.crop = crop
        log.warning("debug_snapshots is on: face crops are written to %s", self.folder)

    def save(self, image: np.ndarray, face: Face, seq: int) -> None:
        name = self.folder / f"{seq:08d}-face{face.face_id}-{face.label}.png"
        cv2.imwrite(str(name), face_crop_48(image, face.box, self.crop))
