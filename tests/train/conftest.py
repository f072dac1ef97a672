"""Real-data fixtures for the workstation tests: a tiny training run and a folder dataset.

Both are session-scoped and small (a few hundred faces, one epoch) so that every test that
needs a trained model or images shares one of each.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from emotion_device.labels import LABEL_SETS
from emotion_train.cli import main as train_main

# The study's folder names (mapped onto the vocabulary by the loader) and the demo photos in them.
PHOTOS = {
    "anger": ["angry.jpg"],
    "casual": ["neutral.jpeg", "group.jpeg"],
    "joy": ["happy-baby.jpeg"],
    "sorrow": ["sad-baby.jpeg"],
    "surprised": ["surprised.jpeg"],  # Haar finds no face in it: reported and skipped
}
FOLDER_OF = {"angry": "anger", "neutral": "casual", "happy": "joy", "sad": "sorrow", "surprise": "surprised"}
CROPS_PER_CLASS = 8
PEOPLE, FACES_PER_PERSON = 6, 3
UNUSABLE = {"anger/coffee.png": "no face", "joy/broken.png": "not a readable image",
            "surprised/surprised.jpeg": "no face"}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, data_dir) -> Path:
    """A one-epoch edge run on 192 faces with FER2013 labels: model.keras, run.json, history.csv, report/."""
    out = tmp_path_factory.mktemp("tiny_run")
    assert train_main(["train", "--out", str(out), "--limit", "192", "--val-limit", "96",
                       "--epochs", "1", "--labels", "fer2013", "--data-dir", str(data_dir), "--no-jit"]) == 0
    return out


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory, data_dir, demo_dir) -> Path:
    """root/<study label>/: real FER2013 Training crops, the demo photos, a photo with no face
    (scikit-image's coffee) and a corrupt PNG."""
    root = tmp_path_factory.mktemp("folder_dataset")
    for folder, photos in PHOTOS.items():
        (root / folder).mkdir()
        for name in photos:
            shutil.copy(demo_dir / name, root / folder / name)
    with np.load(data_dir / "fer2013_train.npz") as archive:
        x, y = archive["x"], archive["y"]
    fer7 = LABEL_SETS["fer7"]
    for label, folder in FOLDER_OF.items():
        for row in np.flatnonzero(y == fer7.index(label))[:CROPS_PER_CLASS]:
            cv2.imwrite(str(root / folder / f"fer{row:05d}.png"), x[row])
    cv2.imwrite(str(root / "anger" / "coffee.png"), skimage.data.coffee()[:, :, ::-1])
    (root / "joy" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not an image" * 8)
    return root


@pytest.fixture(scope="session")
def finetune_run(tmp_path_factory, tiny_run, photo_folder, data_dir) -> Path:
    """Both fine-tuning phases, one epoch each, from the tiny run onto the folder dataset, validated
    on the default: a seeded, stratified share of that folder."""
    out = tmp_path_factory.mktemp("finetune_run")
    assert train_main(["finetune", "--base", str(tiny_run / "model.keras"), "--data", str(photo_folder),
                       "--out", str(out), "--head-epochs", "1", "--finetune-epochs", "1", "--no-jit"]) == 0
    return out


@pytest.fixture(scope="session")
def people_folder(tmp_path_factory, data_dir) -> Path:
    """root/<label>/<person>/fer<row>.png: real FER2013 Training crops of five classes, dealt to
    six made-up "people" (FER2013 has no identities) with a few faces each per class."""
    root = tmp_path_factory.mktemp("people_folder")
    with np.load(data_dir / "fer2013_train.npz") as archive:
        x, y = archive["x"], archive["y"]
    fer7 = LABEL_SETS["fer7"]
    for label in LABEL_SETS["emotion5"]:
        for i, row in enumerate(np.flatnonzero(y == fer7.index(label))[:PEOPLE * FACES_PER_PERSON]):
            folder = root / label / f"person{i % PEOPLE}"
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"fer{row:05d}.png"), x[row])
    return root
