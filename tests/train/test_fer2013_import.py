"""import-fer2013 builds the training archives from the files their owners publish. The test
writes a small fer2013.csv and fer2013new.csv from real rows of ../shared/data (in a temporary
folder; nothing is committed) and checks that the archives come back identical."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np

from emotion_train.cli import main as train_main
from emotion_train.fer2013_import import FERPLUS_NAMES


def write_sources(data_dir, folder, per_split: int = 40):
    """fer2013.csv and fer2013new.csv with `per_split` real Training and PublicTest rows and
    a PrivateTest row (which the import must skip)."""
    rows = []
    for name, usage in (("fer2013_train.npz", "Training"), ("fer2013_val.npz", "PublicTest")):
        with np.load(data_dir / name) as archive:
            for i in range(per_split):
                rows.append((usage, archive["x"][i], int(archive["y"][i]), archive["ferplus_votes"][i]))
    rows.append(("PrivateTest", rows[0][1], 0, rows[0][3]))
    fer, plus = folder / "fer2013.csv", folder / "fer2013new.csv"
    with open(fer, "w", newline="") as a, open(plus, "w", newline="") as b:
        fer_writer, plus_writer = csv.writer(a), csv.writer(b)
        fer_writer.writerow(["emotion", "pixels", "Usage"])
        plus_writer.writerow(["Usage", "Image name", *FERPLUS_NAMES])
        for index, (usage, x, y, votes) in enumerate(rows):
            fer_writer.writerow([y, " ".join(map(str, x.reshape(-1))), usage])
            plus_writer.writerow([usage, f"fer{index:07d}.png", *map(int, votes)])
    return fer, plus


def test_the_archives_come_back_from_the_published_files(data_dir, tmp_path, capsys):
    fer, plus = write_sources(data_dir, tmp_path)
    out = tmp_path / "data"
    assert train_main(["import-fer2013", "--csv", str(fer), "--ferplus", str(plus), "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == {"Training": 40, "PublicTest": 40}
    for name in ("fer2013_train.npz", "fer2013_val.npz"):
        with np.load(out / name) as made, np.load(data_dir / name) as real:
            for key in ("x", "y", "ferplus_votes", "ferplus_valid"):
                np.testing.assert_array_equal(made[key], real[key][:40], err_msg=f"{name}: {key}")
            for key in ("label_names", "ferplus_names"):
                np.testing.assert_array_equal(made[key], real[key], err_msg=f"{name}: {key}")


def test_training_without_data_says_what_to_get_and_where_to_put_it(tmp_path):
    result = subprocess.run([sys.executable, "-m", "emotion_train.cli", "train", "--data-dir",
                             str(tmp_path / "nothing"), "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("emotion-train: error: FER2013 data not found")
    assert "fer2013.csv" in error and "microsoft/FERPlus" in error and "import-fer2013" in error
    assert "EMOTION_DATA" in error and "Traceback" not in result.stderr
