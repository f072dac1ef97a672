"""Test-time augmentation (`model.tta`: flip and ten-crop): the classifier, the config key and
the CLI flag, on the real int8 model with the real LiteRT interpreter and real face crops."""

import json
import subprocess
import sys

import numpy as np
import pytest

from emotion_device.classifier import EmotionClassifier
from emotion_device.config import DetectorSection
from emotion_device.detectors import create_detector
from emotion_device.face import Box
from emotion_device.images import read_image
from emotion_device.pipeline import FacePipeline
from emotion_device.preprocess import face_input, to_gray
from emotion_device.tta import ten_crop_views
from tests.conftest import MODELS

CLI = [sys.executable, "-m", "emotion_device.cli"]
MODEL = str(MODELS / "emotion5.tflite")


def mirror(faces: np.ndarray) -> np.ndarray:
    """Left-right mirror of [..., H, W, 1] faces."""
    return faces[..., ::-1, :]


@pytest.fixture(scope="module")
def plain(bundled_model) -> EmotionClassifier:
    return EmotionClassifier(bundled_model)


@pytest.fixture(scope="module")
def tta(bundled_model) -> EmotionClassifier:
    return EmotionClassifier(bundled_model, tta="flip")


@pytest.fixture(scope="module")
def crops(bundled_model) -> EmotionClassifier:
    return EmotionClassifier(bundled_model, tta="ten-crop")


@pytest.fixture(scope="module")
def faces(face_photos, plain) -> np.ndarray:
    """Model inputs [N,48,48,1]: every face Haar finds in the real photos, each also framed a
    little to the left and to the right, and two noise images. A confident real face can score
    the same as its mirror image after int8 quantization; the noise images never do, so the
    tests below cannot pass because the mirror changed nothing."""
    detector = create_detector("haar")
    crops = []
    for photo in face_photos:
        image = read_image(photo)
        for found in detector.detect(to_gray(image)):
            box = found.box
            for shift in (0, -box.w // 8, box.w // 8):
                crops.append(face_input(image, Box(box.x + shift, box.y, box.w, box.h),
                                        plain.card.face_crop))
    noise = np.random.default_rng(0).integers(0, 256, (2, 48, 48, 1)).astype(np.float32)
    return np.concatenate([np.stack(crops), noise])


def test_tta_scores_are_the_mean_of_a_face_and_its_mirror_image(plain, tta, faces):
    for face in faces:
        expected = (plain.scores(face) + plain.scores(mirror(face))) / 2
        np.testing.assert_allclose(tta.scores(face), expected, atol=1e-6)
    assert not np.allclose(tta.scores(faces), plain.scores(faces), atol=1e-6)


def test_a_face_and_its_mirror_image_get_identical_tta_scores(plain, tta, faces):
    assert not np.array_equal(plain.scores(faces), plain.scores(mirror(faces)))
    np.testing.assert_array_equal(tta.scores(faces), tta.scores(mirror(faces)))


def test_a_batch_of_faces_keeps_its_order(tta, faces):
    batch = tta.scores(faces)
    assert batch.shape == (len(faces), len(tta.labels))
    np.testing.assert_allclose(batch, np.concatenate([tta.scores(f) for f in faces]), atol=1e-6)
    np.testing.assert_allclose(tta.scores(faces[::-1]), batch[::-1], atol=1e-6)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=0.03)
    assert tta.scores(faces[:0]).shape == (0, len(tta.labels))


def test_ten_crop_scores_are_the_mean_of_the_ten_views(plain, crops, tta, faces):
    for face in faces:
        views = ten_crop_views(face[None, :, :, 0])
        expected = np.mean([plain.scores(view[..., None]) for view in views], axis=0)
        np.testing.assert_allclose(crops.scores(face), expected, atol=1e-6)
    batch = crops.scores(faces)
    assert not np.allclose(batch, plain.scores(faces), atol=1e-6)
    assert not np.allclose(batch, tta.scores(faces), atol=1e-6)


def test_a_batch_of_faces_keeps_its_order_with_ten_crops(crops, faces):
    batch = crops.scores(faces)
    assert batch.shape == (len(faces), len(crops.labels))
    np.testing.assert_allclose(batch, np.concatenate([crops.scores(f) for f in faces]), atol=1e-6)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=0.03)
    assert crops.scores(faces[:0]).shape == (0, len(crops.labels))


def test_tta_is_off_unless_asked_for_and_an_unknown_mode_is_refused(bundled_model):
    assert EmotionClassifier(bundled_model).tta == "off"
    with pytest.raises(ValueError, match="unknown test-time augmentation 'five-crop'"):
        EmotionClassifier(bundled_model, tta="five-crop")


def _expected(photo, tta: str) -> dict[tuple, dict]:
    """Scores by box, as the classifier with the given TTA gives them in this process."""
    detector = DetectorSection()  # the CLI's default detector
    pipeline = FacePipeline(create_detector(detector.name, detector.options()),
                            EmotionClassifier(MODEL, tta=tta))
    faces = pipeline.process(read_image(photo))
    return {tuple(face.box.to_list()): face.to_dict()["scores"] for face in faces}


def _by_box(stdout: str) -> dict[tuple, dict]:
    records = [json.loads(line) for line in stdout.splitlines()]
    return {tuple(r["box"]): r["scores"] for r in records if r.get("type", "face") == "face"}


@pytest.fixture(scope="module")
def photo(demo_dir):
    """A real face whose scores change with each TTA mode (not a near-100% one)."""
    path = demo_dir / "angry.jpg"
    by_mode = [_expected(path, mode) for mode in ("off", "flip", "ten-crop")]
    assert by_mode[0] != by_mode[1] != by_mode[2] != by_mode[0]
    return path


@pytest.mark.parametrize("mode", ["off", "flip", "ten-crop"])
def test_classify_tta_flag_reaches_the_classifier(photo, mode):
    flag = ["--tta", mode] if mode != "off" else []
    result = subprocess.run([*CLI, "classify", str(photo), "--model", MODEL, *flag],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert _by_box(result.stdout) == _expected(photo, mode)


@pytest.mark.parametrize(("config_value", "flag", "mode"), [
    ("flip", [], "flip"),
    ("flip", ["--tta", "off"], "off"),
    ("off", ["--tta", "ten-crop"], "ten-crop"),
])
def test_the_run_flag_overrides_the_config(photo, tmp_path, config_value, flag, mode):
    config = tmp_path / "config.toml"
    config.write_text(f'[source]\nuri = "{photo}"\n[model]\nname = "{MODEL}"\ntta = "{config_value}"\n')
    result = subprocess.run([*CLI, "run", "--config", str(config), "--max-frames", "1", "--log", "-", *flag],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (f"{mode} TTA on" in result.stderr) is (mode != "off")
    assert _by_box(result.stdout) == _expected(photo, mode)
