"""The loaders on real data: the original csv, a folder dataset of photos and crops, a subset."""

import csv
import json

import numpy as np
import pytest

from emotion_device.detectors import create_detector
from emotion_device.images import read_image
from emotion_device.labels import LABEL_SETS
from emotion_device.preprocess import CropSpec, crop_face, resize_face, to_gray
from emotion_train.fer2013 import load_fer2013_npz
from emotion_train.fer2013_csv import load_fer2013_csv
from emotion_train.image_folder import load_image_folder
from emotion_train.subset import write_balanced_subset
from tests.train.conftest import CROPS_PER_CLASS, FOLDER_OF, PHOTOS, UNUSABLE


def _first_rows(path, n):
    with np.load(path) as archive:
        return {"x": archive["x"][:n], "y": archive["y"][:n]}


def _write_csv(path, splits):
    """fer2013.csv's layout, from real npz rows: [(rows of an archive, usage)] in file order."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for rows, usage in splits:
            for face, label in zip(rows["x"], rows["y"]):
                writer.writerow([int(label), " ".join(map(str, face.ravel())), usage])


def test_csv_loader_gives_the_npz_faces_and_labels(tmp_path, data_dir):
    train = _first_rows(data_dir / "fer2013_train.npz", 20)
    val = _first_rows(data_dir / "fer2013_val.npz", 60)
    path = tmp_path / "fer2013.csv"
    _write_csv(path, [(train, "Training"), (val, "PublicTest")])

    public = load_fer2013_csv(path, "PublicTest", "fer7")
    assert public.labels == LABEL_SETS["fer7"] and public.label_source == "fer2013"
    np.testing.assert_array_equal(public.rows, np.arange(20, 80))  # data rows of the csv
    np.testing.assert_array_equal(public.x, val["x"])
    np.testing.assert_array_equal(public.y, val["y"])

    five = load_fer2013_csv(path, "PublicTest", "emotion5")
    expected = load_fer2013_npz(data_dir / "fer2013_val.npz", "emotion5", "fer2013")
    expected = expected.subset(np.flatnonzero(expected.rows < 60))
    np.testing.assert_array_equal(five.x, expected.x)
    np.testing.assert_array_equal(five.targets, expected.targets)
    np.testing.assert_array_equal(five.rows - 20, expected.rows)

    assert len(load_fer2013_csv(path, "Training", "fer7")) == 20
    with pytest.raises(ValueError, match="usage"):
        load_fer2013_csv(path, "Test", "fer7")


def test_csv_loader_names_a_malformed_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("emotion,pixels,Usage\n0,1 2 3,PublicTest\n")
    with pytest.raises(ValueError, match="row 0 has 3 pixel values"):
        load_fer2013_csv(path, "PublicTest", "fer7")


def test_folder_loader_maps_study_names_and_reports_every_unusable_file(photo_folder, data_dir, caplog):
    with caplog.at_level("WARNING"):
        folder = load_image_folder(photo_folder, "emotion5")
    data = folder.data
    assert data.labels == LABEL_SETS["emotion5"] and data.x.shape[1:] == (48, 48)
    skipped = {s.path.removeprefix(f"{photo_folder}/"): s.reason for s in folder.skipped}
    assert set(skipped) == set(UNUSABLE)
    for name, reason in UNUSABLE.items():
        assert reason in skipped[name]
        assert name.split("/")[1] in caplog.text, "every skipped file is logged by name"
    expected = {}
    for label in data.labels:
        folder_name = FOLDER_OF[label]
        photos = [name for name in PHOTOS[folder_name] if f"{folder_name}/{name}" not in UNUSABLE]
        expected[label] = CROPS_PER_CLASS + len(photos)
    assert data.class_counts() == expected
    assert len(folder.files) == len(data) and data.label_source == "folder"
    for index, name in enumerate(folder.files):
        assert FOLDER_OF[data.labels[data.y[index]]] == name.split("/")[-2]


def test_folder_loader_keeps_crops_exact_and_crops_photos_like_the_device(photo_folder, data_dir):
    folder = load_image_folder(photo_folder, "emotion5")
    train_x = np.load(data_dir / "fer2013_train.npz")["x"]
    for face, name in zip(folder.data.x, folder.files):
        stem = name.rsplit("/", 1)[-1]
        if stem.startswith("fer"):
            np.testing.assert_array_equal(face, train_x[int(stem[3:8])])
    # A photo: the device's detector, the largest face, the device's crop (margin 0) and resize.
    group = folder.files.index(f"{photo_folder}/casual/group.jpeg")
    gray = to_gray(read_image(photo_folder / "casual" / "group.jpeg"))
    faces = create_detector("haar").detect(gray)
    assert len(faces) > 1
    largest = max(faces, key=lambda d: d.box.w * d.box.h).box
    np.testing.assert_array_equal(folder.data.x[group], resize_face(crop_face(gray, largest, CropSpec())))


def test_folder_loader_rejects_a_folder_that_is_no_emotion(tmp_path):
    (tmp_path / "holidays").mkdir()
    with pytest.raises(ValueError, match="unknown emotion label 'holidays'"):
        load_image_folder(tmp_path, "emotion5")


def test_balanced_subset_is_seeded_and_loads_as_a_folder_dataset(tmp_path, data_dir):
    archive = data_dir / "fer2013_train.npz"
    first = write_balanced_subset(archive, tmp_path / "a", 3, "emotion5", "ferplus-majority", seed=7)
    again = write_balanced_subset(archive, tmp_path / "b", 3, "emotion5", "ferplus-majority", seed=7)
    assert first["rows"] == again["rows"]
    assert first["class_counts"] == {label: 3 for label in LABEL_SETS["emotion5"]}
    assert json.loads((tmp_path / "a" / "manifest.json").read_text()) == first

    folder = load_image_folder(tmp_path / "a", "emotion5")
    assert not folder.skipped and len(folder.data) == 15
    data = load_fer2013_npz(archive, "emotion5", "ferplus-majority")
    position = {int(row): i for i, row in enumerate(data.rows)}
    for face, label, name in zip(folder.data.x, folder.data.y, folder.files):
        index = position[int(name.rsplit("/fer", 1)[1][:5])]
        np.testing.assert_array_equal(face, data.x[index])
        assert label == data.y[index]
