"""The one definition of how pixels become a model input.

Training, conversion and the device all call these functions, so a face crop gives the same
tensor everywhere. The model contract: a 48x48x1 grayscale crop of raw values 0..255 as
float32; any normalization is the model's own business (a Rescaling layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from emotion_device.face import Box

INPUT_SIZE = 48


@dataclass(frozen=True)
class CropSpec:
    """How a detector box becomes a face crop; stored in every model card as `face_crop`.

    `margin` grows the box by that fraction of its size on every side. OpenCV's Haar boxes
    frame a face almost exactly as FER2013's crops do (`emotion-train calibrate-crop`: crop/box
    median 1.02 on PublicTest), so the default is no margin; a detector that boxes tighter
    needs one. `square` makes the crop square around the box centre, so resizing never
    distorts the face.
    """

    margin: float = 0.0
    square: bool = True

    def to_dict(self) -> dict:
        return {"margin": self.margin, "square": self.square, "border": "replicate"}

    @classmethod
    def from_dict(cls, data: dict) -> CropSpec:
        return cls(margin=float(data.get("margin", 0.0)), square=bool(data.get("square", True)))


def to_gray(image: np.ndarray) -> np.ndarray:
    """BGR, BGRA or single-channel uint8 image -> 2-D uint8 grayscale (OpenCV's BT.601 weights)."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"expected a grayscale, BGR or BGRA image, got shape {image.shape}")


def crop_region(box: Box, spec: CropSpec) -> Box:
    """The region to cut for a detector box: grown by the margin and squared, before clipping."""
    grow_w = box.w * spec.margin
    grow_h = box.h * spec.margin
    w = box.w + 2 * grow_w
    h = box.h + 2 * grow_h
    if spec.square:
        w = h = max(w, h)
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    return Box(round(cx - w / 2), round(cy - h / 2), round(w), round(h))


def crop_face(image: np.ndarray, box: Box, spec: CropSpec) -> np.ndarray:
    """Cut the crop region out of a frame (gray or colour), replicating the edge where it leaves it.

    Replicating (rather than clipping the region) keeps the face centred and unscaled when a
    face touches the frame border, which is common with a close camera. Cropping before the
    gray conversion means a 1280x720 colour frame costs only its faces' pixels.
    """
    region = crop_region(box, spec)
    height, width = image.shape[:2]
    x0, y0 = region.x, region.y
    x1, y1 = x0 + region.w, y0 + region.h
    pad_left, pad_top = max(0, -x0), max(0, -y0)
    pad_right, pad_bottom = max(0, x1 - width), max(0, y1 - height)
    inside = image[max(0, y0):min(height, y1), max(0, x0):min(width, x1)]
    if inside.size == 0:
        raise ValueError(f"face box {box} lies outside the {width}x{height} frame")
    if pad_left or pad_top or pad_right or pad_bottom:
        inside = cv2.copyMakeBorder(
            inside, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE
        )
    return inside


def resize_face(crop: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """Resize a grayscale crop to size x size; INTER_AREA for shrinking avoids aliasing."""
    if crop.shape[:2] == (size, size):
        return crop
    shrinking = crop.shape[0] > size or crop.shape[1] > size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


def to_model_input(faces: np.ndarray) -> np.ndarray:
    """Grayscale 48x48 face(s), uint8 [48,48] or [N,48,48] -> float32 [N,48,48,1], values 0..255.

    This is the exact array handed to a float model, and the one an int8 model's input is
    quantized from.
    """
    faces = np.asarray(faces)
    if faces.ndim == 2:
        faces = faces[None]
    if faces.ndim == 4 and faces.shape[-1] == 1:
        faces = faces[..., 0]
    if faces.ndim != 3 or faces.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
        raise ValueError(f"expected 48x48 grayscale faces, got shape {faces.shape}")
    return faces.astype(np.float32)[..., None]


def face_crop_48(image: np.ndarray, box: Box, spec: CropSpec) -> np.ndarray:
    """Frame + detector box -> the 48x48 uint8 gray face: crop, gray, resize."""
    return resize_face(to_gray(crop_face(image, box, spec)))


def face_input(image: np.ndarray, box: Box, spec: CropSpec) -> np.ndarray:
    """Frame + detector box -> one model input [48,48,1] as float32."""
    return to_model_input(face_crop_48(image, box, spec))[0]
