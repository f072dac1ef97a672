"""The test-time views of `model.tta`: none, the mirror image, or ten crops (four corners and the
centre, resized back to 48 by the device's resize, and their mirror images)."""

from __future__ import annotations

import numpy as np
import pytest

from emotion_device.preprocess import resize_face
from emotion_device.tta import CROP, ten_crop_views, tta_views


def _marked_faces() -> np.ndarray:
    """Two faces of one grey level, each with one bright pixel in a corner only some crops keep."""
    faces = np.full((2, 48, 48), 100, np.uint8)
    faces[0, 0, 0] = 255  # top left: inside the top-left crop only
    faces[1, 47, 47] = 255  # bottom right: inside the bottom-right crop only
    return faces


def test_ten_views_of_the_input_shape_and_type():
    views = ten_crop_views(_marked_faces())
    assert len(views) == 10
    assert all(view.shape == (2, 48, 48) and view.dtype == np.uint8 for view in views)


def test_each_corner_crop_keeps_only_its_own_corner():
    top_left, top_right, bottom_left, bottom_right, centre = ten_crop_views(_marked_faces())[:5]
    assert top_left[0].max() == 255 and top_left[1].max() == 100
    assert bottom_right[1].max() == 255 and bottom_right[0].max() == 100
    for view in (top_right, bottom_left, centre):
        assert view.max() == 100, "a crop that does not reach either marked corner"


def test_the_centre_crop_is_the_devices_resize_of_the_middle_44_pixels():
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    centre = ten_crop_views(faces)[4]
    for face, view in zip(faces, centre):
        np.testing.assert_array_equal(view, resize_face(face[2:2 + CROP, 2:2 + CROP]))


def test_the_last_five_views_mirror_the_first_five():
    faces = np.random.default_rng(1).integers(0, 256, (2, 48, 48), dtype=np.uint8)
    views = ten_crop_views(faces)
    for crop, mirrored in zip(views[:5], views[5:]):
        np.testing.assert_array_equal(mirrored, crop[:, :, ::-1])


@pytest.mark.parametrize("faces, crop, message", [
    (np.zeros((2, 40, 40), np.uint8), CROP, "48x48"),
    (np.zeros((2, 48, 48), np.uint8), 48, "1 to 47"),
])
def test_bad_input_gets_one_clear_error(faces, crop, message):
    with pytest.raises(ValueError, match=message):
        ten_crop_views(faces, crop)


def test_float_faces_give_float_views_and_an_empty_batch_gives_empty_views():
    faces = np.random.default_rng(2).uniform(0, 255, (2, 48, 48)).astype(np.float32)
    views = ten_crop_views(faces)
    assert all(view.dtype == np.float32 and view.shape == (2, 48, 48) for view in views)
    assert all(view.shape == (0, 48, 48) for view in ten_crop_views(faces[:0]))


def test_each_mode_has_its_views():
    faces = np.random.default_rng(3).integers(0, 256, (2, 48, 48), dtype=np.uint8)
    (alone,) = tta_views(faces, "off")
    assert alone is faces
    itself, mirrored = tta_views(faces, "flip")
    assert itself is faces
    np.testing.assert_array_equal(mirrored, faces[:, :, ::-1])
    for view, expected in zip(tta_views(faces, "ten-crop"), ten_crop_views(faces), strict=True):
        np.testing.assert_array_equal(view, expected)
    with pytest.raises(ValueError, match="choose from off, flip, ten-crop"):
        tta_views(faces, "five-crop")
