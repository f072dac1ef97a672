"""Distillation: the bundled ferplus8 network teaches a student through cached, blended targets."""

import json

import numpy as np
import pytest

from emotion_train.distillation import distilled, teacher_scores
from emotion_train.evaluate import load_predictor
from emotion_train.fer2013 import load_fer2013_npz
from emotion_train.training import TrainConfig, train
from tests.conftest import MODELS

TEACHER = MODELS / "ferplus8.keras"  # described by models/ferplus8.json


@pytest.fixture(scope="module")
def faces(data_dir):
    data = load_fer2013_npz(data_dir / "fer2013_val.npz", "emotion5", "ferplus-majority")
    return data.subset(np.arange(48))


def test_an_eight_class_teacher_is_restricted_to_the_students_classes(faces):
    soft = teacher_scores([TEACHER], faces.x, faces.labels)
    assert soft.shape == (48, 5)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-5)
    full = load_predictor(TEACHER, tta="flip")
    eight = full.predict(faces.x)[:, [full.info.labels.index(label) for label in faces.labels]]
    np.testing.assert_allclose(soft, eight / eight.sum(axis=1, keepdims=True), atol=1e-5)
    assert np.mean(soft.argmax(1) == faces.y) > 0.6, "a trained teacher mostly agrees with FER+"


def test_targets_are_blended_and_labels_kept(faces):
    taught = distilled(faces, [TEACHER], weight=0.25)
    soft = teacher_scores([TEACHER], faces.x, faces.labels)
    np.testing.assert_allclose(taught.targets, 0.75 * faces.targets + 0.25 * soft, atol=1e-5)
    assert np.array_equal(taught.y, faces.y) and np.array_equal(taught.rows, faces.rows)


def test_a_teacher_without_the_students_classes_is_refused(faces, data_dir):
    fer7 = load_fer2013_npz(data_dir / "fer2013_val.npz", "ferplus8", "ferplus-soft").subset(np.arange(4))
    with pytest.raises(ValueError, match="no class for"):
        teacher_scores([MODELS / "emotion5.keras"], fer7.x, fer7.labels)


def test_a_run_with_a_teacher_records_it(tmp_path, data_dir):
    train(TrainConfig(out_dir=str(tmp_path / "student"), epochs=1, limit=192, val_limit=64,
                               data_dir=str(data_dir), jit_compile=False, teachers=(str(TEACHER),),
                               distill_weight=0.5))
    record = json.loads((tmp_path / "student" / "run.json").read_text())
    assert record["config"]["teachers"] == [str(TEACHER)] and record["config"]["distill_weight"] == 0.5
    assert record["metrics"]["test"]["n"] == 64
