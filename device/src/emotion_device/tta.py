"""Test-time augmentation: the views of a face whose scores the classifier averages.

- "flip": the face and its left-right mirror image. FER expressions are close to left-right
  symmetric, so the mirror shows the same expression while the network's errors on the two
  are only partly correlated; averaging lowers the variance of the scores.
- "ten-crop": the classic ten crops (Krizhevsky et al., 2012): the four corner crops and the
  centre crop, and the mirror image of each. The networks take the whole 48x48 face, so each
  44x44 crop is resized back to 48 with the same `resize_face` as every face crop: a 9% zoom
  shifted by up to 4 pixels (8%), inside what training augmentation shows the networks
  (`RandomZoom` 10%, `RandomTranslation` 8%).

Every view of every face goes through one invoke, so the classifier time per face grows with
the number of views (2 or 10); face detection costs the same. The views are measured on the
validation split by `emotion-train ensemble` and on the device by `emotion-device bench`.
"""

from __future__ import annotations

import numpy as np

from emotion_device.preprocess import INPUT_SIZE, resize_face

TTA_MODES = ("off", "flip", "ten-crop")
CROP = 44


def _crop_origins(crop: int) -> list[tuple[int, int]]:
    """(top, left) of the four corner crops and the centre crop."""
    far, middle = INPUT_SIZE - crop, (INPUT_SIZE - crop) // 2
    return [(0, 0), (0, far), (far, 0), (far, far), (middle, middle)]


def ten_crop_views(faces: np.ndarray, crop: int = CROP) -> list[np.ndarray]:
    """Faces [N,48,48] (uint8, or float32 raw pixels) -> ten views [N,48,48] of the same type:
    five crops of crop x crop pixels resized back to 48, then the mirror image of each."""
    faces = np.asarray(faces)
    if faces.ndim != 3 or faces.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
        raise ValueError(f"expected 48x48 grayscale faces [N,48,48], got shape {faces.shape}")
    if not 0 < crop < INPUT_SIZE:
        raise ValueError(f"the crop must be 1 to {INPUT_SIZE - 1} pixels, got {crop}")
    crops = [np.stack([resize_face(face[top:top + crop, left:left + crop]) for face in faces])
             if len(faces) else faces.copy() for top, left in _crop_origins(crop)]
    return crops + [view[:, :, ::-1] for view in crops]


def check_mode(mode: str) -> str:
    """`mode` when it is one of TTA_MODES, else a ValueError that names them."""
    if mode not in TTA_MODES:
        raise ValueError(f"unknown test-time augmentation {mode!r}; choose from {', '.join(TTA_MODES)}")
    return mode


def tta_views(faces: np.ndarray, mode: str) -> list[np.ndarray]:
    """The views `mode` averages over, each shaped like `faces` [N,48,48]; the first is the
    face itself except for ten-crop, whose views are all crops."""
    if check_mode(mode) == "off":
        return [faces]
    if mode == "flip":
        return [faces, faces[:, :, ::-1]]
    return ten_crop_views(faces)
