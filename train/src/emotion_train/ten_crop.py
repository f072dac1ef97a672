"""Ten-crop test-time averaging: the views a face is scored in, to measure what averaging buys.

The classic ten crops (Krizhevsky et al., 2012) are the four corner crops and the centre crop,
and the mirror image of each. Our networks take the whole 48x48 face, so each 44x44 crop is
resized back to 48 with the device's own `resize_face`: a 9% zoom shifted by up to 4 pixels
(8%), inside what the training augmentation already shows the network (`RandomZoom` 10%,
`RandomTranslation` 8%). On the device the ten views would cost ten invokes per face, so this
is a measurement on the validation split, not a device option.
"""

from __future__ import annotations

import numpy as np

from emotion_device.preprocess import INPUT_SIZE, resize_face

CROP = 44
VIEWS = 10


def _crop_origins(crop: int) -> list[tuple[int, int]]:
    """(top, left) of the four corner crops and the centre crop."""
    far, middle = INPUT_SIZE - crop, (INPUT_SIZE - crop) // 2
    return [(0, 0), (0, far), (far, 0), (far, far), (middle, middle)]


def ten_crop_views(faces: np.ndarray, crop: int = CROP) -> list[np.ndarray]:
    """uint8 faces [N,48,48] -> ten views [N,48,48]: five crops of crop x crop pixels resized
    back to 48, then the mirror image of each of them."""
    faces = np.asarray(faces)
    if faces.ndim != 3 or faces.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
        raise ValueError(f"expected 48x48 grayscale faces [N,48,48], got shape {faces.shape}")
    if not 0 < crop < INPUT_SIZE:
        raise ValueError(f"the crop must be 1 to {INPUT_SIZE - 1} pixels, got {crop}")
    crops = [np.stack([resize_face(face[top:top + crop, left:left + crop]) for face in faces])
             for top, left in _crop_origins(crop)]
    return crops + [view[:, :, ::-1] for view in crops]
