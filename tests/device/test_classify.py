"""`emotion-device classify` on real photos, through the CLI users run."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from emotion_device.classifier import EmotionClassifier
from emotion_device.detectors import create_detector
from emotion_device.images import read_image
from emotion_device.pipeline import FacePipeline


def classify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotion_device.cli", "classify", *args],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def pipeline(bundled_model):
    return FacePipeline(create_detector("haar"), EmotionClassifier(bundled_model))


def _assert_valid_face(face: dict, labels: list[str], shape) -> None:
    assert face["label"] in labels
    assert set(face["scores"]) == set(labels)
    assert sum(face["scores"].values()) == pytest.approx(1.0, abs=0.03)
    assert face["label"] == max(face["scores"], key=face["scores"].get)
    x, y, w, h = face["box"]
    assert w > 20 and h > 20 and 0 <= x < shape[1] and 0 <= y < shape[0]


def test_each_real_face_photo_gives_a_face_with_a_distribution(face_photos, bundled_model):
    result = classify(*map(str, face_photos), "--model", str(bundled_model))
    assert result.returncode == 0, result.stderr
    faces = [json.loads(line) for line in result.stdout.splitlines()]
    labels = EmotionClassifier(bundled_model).labels
    for photo in face_photos:
        mine = [f for f in faces if f["image"] == str(photo)]
        assert len(mine) >= 1, f"no face found in {photo.name}"
        for face in mine:
            _assert_valid_face(face, labels, read_image(photo).shape)


def test_group_photo_gives_several_faces(pipeline, group_photo):
    faces = pipeline.process(read_image(group_photo))
    assert len(faces) >= 3
    boxes = [f.box for f in faces]
    assert len(set(boxes)) == len(boxes)


def test_an_image_without_a_face_gives_an_empty_list(pipeline, faceless_photo, bundled_model):
    assert pipeline.process(read_image(faceless_photo)) == []
    result = classify(str(faceless_photo), "--model", str(bundled_model))
    assert result.returncode == 0 and result.stdout == ""


def test_a_non_image_file_gives_a_clear_error(tmp_path, bundled_model):
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    result = classify(str(text), "--model", str(bundled_model))
    assert result.returncode == 2  # the README's status for a problem the user can fix
    assert f"{text}: not a readable image" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_model_is_a_clear_error(face_photos):
    result = classify(str(face_photos[0]), "--model", "no-such-model")
    assert result.returncode == 2
    assert "model 'no-such-model' not found; looked in" in result.stderr


def test_annotate_writes_the_image_with_boxes(face_photos, tmp_path, bundled_model):
    out = tmp_path / "annotated.png"
    result = classify(str(face_photos[0]), "--model", str(bundled_model), "--annotate", str(out))
    assert result.returncode == 0, result.stderr
    original, annotated = read_image(face_photos[0]), cv2.imread(str(out))
    assert annotated.shape == original.shape
    assert np.mean(np.any(annotated != original, axis=2)) > 0.001  # boxes and labels were drawn


def test_several_faces_are_classified_in_one_batch_like_one_by_one(bundled_model):
    classifier = EmotionClassifier(bundled_model)
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1)).astype(np.float32)
    batch = classifier.scores(faces)
    single = np.concatenate([classifier.scores(f[None]) for f in faces])
    assert batch.shape == (4, len(classifier.labels))
    np.testing.assert_allclose(batch, single, atol=1e-6)


def test_the_readme_shows_what_make_demo_prints(tmp_path):
    """The front page's example output is the bundled default model's real answer on
    scikit-image's astronaut, as `make demo` writes and classifies it."""
    from skimage import data as skimage_data

    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    shown = json.loads(readme.split("```json\n", 1)[1].split("\n```", 1)[0])
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), skimage_data.astronaut()[:, :, ::-1])
    result = classify(str(photo))
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout.splitlines()[0])
    assert {**printed, "image": shown["image"]} == shown, "README.md's demo output is stale"
    percent = f"{printed['label']} {round(100 * printed['confidence'])}%"
    assert f'"{percent}"' in readme, f"README.md should name the annotation as \"{percent}\""
