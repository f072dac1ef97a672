"""Measure how a detector frames FER2013's own faces, to set the card's crop margin.

The device crops a detector box plus a margin; that crop should frame a face the way the
training crops do. Running the detector on upscaled training faces and comparing its box
with the whole crop gives the margin directly: margin = (crop / box - 1) / 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from emotion_device.detectors.haar import HaarFaceDetector, HaarOptions

UPSCALE = 192  # FER crops are 48 px; Haar needs a larger face to find one reliably
PAD = 64  # replicated border, so the detector can place a box larger than the crop


@dataclass
class Framing:
    faces: int
    detected: int
    crop_to_box_median: float
    crop_to_box_iqr: tuple[float, float]
    centre_offset: tuple[float, float]  # box centre minus crop centre, in crop widths

    @property
    def margin(self) -> float:
        return round(max(0.0, (self.crop_to_box_median - 1) / 2), 3)

    def to_dict(self) -> dict:
        return {**self.__dict__, "suggested_margin": self.margin}


def measure_haar_framing(faces: np.ndarray) -> Framing:
    detector = HaarFaceDetector(HaarOptions(min_size=UPSCALE // 3, detect_width=0))
    ratios, offsets = [], []
    for face in faces:
        big = cv2.resize(face, (UPSCALE, UPSCALE), interpolation=cv2.INTER_CUBIC)
        frame = cv2.copyMakeBorder(big, PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)
        found = detector.detect(frame)
        if len(found) != 1:
            continue
        box = found[0].box
        ratios.append(UPSCALE / max(box.w, box.h))
        offsets.append(((box.x + box.w / 2 - PAD) / UPSCALE - 0.5, (box.y + box.h / 2 - PAD) / UPSCALE - 0.5))
    if not ratios:
        raise ValueError("the detector found no face in any of the given crops")
    r = np.array(ratios)
    q25, q75 = np.percentile(r, [25, 75])
    dx, dy = np.median(np.array(offsets), axis=0)
    return Framing(len(faces), len(r), round(float(np.median(r)), 3),
                   (round(float(q25), 3), round(float(q75), 3)), (round(float(dx), 3), round(float(dy), 3)))
