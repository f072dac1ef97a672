import numpy as np
import pytest

from emotion_device.face import Box
from emotion_device.preprocess import (
    CropSpec,
    crop_face,
    crop_region,
    face_input,
    resize_face,
    to_gray,
    to_model_input,
)


def test_to_gray_accepts_gray_bgr_and_bgra():
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 2] = 255  # pure red in BGR
    gray = to_gray(bgr)
    assert gray.shape == (4, 5) and gray.dtype == np.uint8
    assert int(gray[0, 0]) == 76  # BT.601: 0.299 * 255
    assert to_gray(np.dstack([bgr, np.full((4, 5), 255, np.uint8)])).tolist() == gray.tolist()
    assert to_gray(gray) is gray
    with pytest.raises(ValueError, match="shape"):
        to_gray(np.zeros((4, 5, 2), np.uint8))


def test_crop_region_adds_margin_and_squares_around_the_centre():
    region = crop_region(Box(100, 100, 40, 60), CropSpec(margin=0.25, square=True))
    assert region.w == region.h == 90  # 60 + 2 * 15
    assert (region.x + region.w / 2, region.y + region.h / 2) == (120, 130)
    assert crop_region(Box(10, 20, 30, 30), CropSpec(margin=0.0)) == Box(10, 20, 30, 30)


def test_crop_at_the_frame_edge_keeps_size_by_replicating_the_border():
    frame = np.arange(100 * 100, dtype=np.uint32).reshape(100, 100).astype(np.uint8)
    crop = crop_face(frame, Box(-10, -10, 40, 40), CropSpec(margin=0.0))
    assert crop.shape == (40, 40)
    assert (crop[:10, 10] == frame[0, 0]).all()  # replicated top edge
    with pytest.raises(ValueError, match="outside"):
        crop_face(frame, Box(500, 500, 10, 10), CropSpec(margin=0.0))


def test_model_input_is_raw_pixels_float32_nhwc():
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    x = to_model_input(faces)
    assert x.shape == (3, 48, 48, 1) and x.dtype == np.float32
    assert np.array_equal(x[..., 0], faces.astype(np.float32))
    assert to_model_input(faces[0]).shape == (1, 48, 48, 1)
    with pytest.raises(ValueError, match="48x48"):
        to_model_input(np.zeros((2, 32, 32), np.uint8))


def test_face_input_undoes_an_integer_upscale_exactly():
    face = np.random.default_rng(1).integers(0, 256, (48, 48), dtype=np.uint8)
    frame = np.zeros((400, 300), np.uint8)
    frame[50:242, 60:252] = np.kron(face, np.ones((4, 4), np.uint8))  # 4x nearest upscale
    x = face_input(frame, Box(60, 50, 192, 192), CropSpec(margin=0.0))
    assert np.array_equal(x[..., 0], face.astype(np.float32))
    assert resize_face(face) is face
