"""`emotion-train ensemble`: runs scored alone and averaged on the validation split they share,
each with flip and ten-crop averaging."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from emotion_device.preprocess import to_model_input
from emotion_device.tta import ten_crop_views
from emotion_train.cli import main as train_main
from emotion_train.ensemble import score_ensembles
from emotion_train.evaluate import load_predictor
from emotion_train.metrics import classification_metrics
from emotion_train.run_data import run_datasets


def _tiny(out, data_dir, *extra: str):
    assert train_main(["train", "--out", str(out), "--limit", "192", "--val-limit", "96", "--epochs", "1",
                       "--labels", "fer2013", "--data-dir", str(data_dir), "--no-jit", "--no-test",
                       *extra]) == 0
    return out


@pytest.fixture(scope="module")
def second_run(tmp_path_factory, data_dir):
    """The tiny run's recipe with another seed: other weights, the same validation faces."""
    return _tiny(tmp_path_factory.mktemp("second"), data_dir, "--seed", "7")


def test_each_run_and_their_average_are_scored_on_the_shared_validation_split(tiny_run, second_run, data_dir):
    described, rows = score_ensembles([tiny_run, second_run], str(data_dir))
    assert [row.members for row in rows] == [(str(tiny_run),), (str(second_run),),
                                             (str(tiny_run), str(second_run))]
    record = json.loads((tiny_run / "run.json").read_text())
    val = run_datasets(record, str(data_dir)).val
    assert described.startswith(f"{len(val)} validation faces")
    scores = [load_predictor(run / "model.keras").predict(val.x) for run in (tiny_run, second_run)]
    assert scores[0].argmax(1).tolist() != scores[1].argmax(1).tolist(), "two different networks"
    for row, expected in zip(rows, (scores[0], scores[1], scores[0] + scores[1])):
        metrics = classification_metrics(val.y, expected, val.labels)
        assert (row.accuracy, row.macro_f1) == (metrics["accuracy"], metrics["macro_f1"])
    flipped = load_predictor(tiny_run / "model.keras", tta="flip").predict(val.x)
    assert rows[0].flip_accuracy == classification_metrics(val.y, flipped, val.labels)["accuracy"]
    predictor = load_predictor(second_run / "model.keras")
    views = ten_crop_views(to_model_input(val.x)[..., 0])  # raw float pixels, as the device crops them
    cropped = np.mean([predictor.predict(view) for view in views], axis=0)
    expected = classification_metrics(val.y, cropped, val.labels)
    assert (rows[1].ten_crop_accuracy, rows[1].ten_crop_macro_f1) == (expected["accuracy"],
                                                                       expected["macro_f1"])


def test_runs_selected_on_other_faces_are_refused(tiny_run, tmp_path, data_dir):
    other = _tiny(tmp_path / "other", data_dir, "--split-seed", "99")
    with pytest.raises(ValueError, match="other validation faces"):
        score_ensembles([tiny_run, other], str(data_dir))


def test_a_folder_that_is_not_a_finished_run_is_refused(tiny_run, tmp_path, data_dir):
    half = tmp_path / "half"
    shutil.copytree(tiny_run, half)
    (half / "model.keras").unlink()
    with pytest.raises(ValueError, match="not a finished run folder"):
        score_ensembles([tiny_run, half], str(data_dir))
    with pytest.raises(ValueError, match="listed twice"):
        score_ensembles([tiny_run, tiny_run], str(data_dir))


def test_cli_prints_json_and_writes_the_table(tiny_run, second_run, tmp_path, data_dir, capsys):
    table = tmp_path / "docs" / "ensemble.md"
    assert train_main(["ensemble", str(tiny_run), str(second_run), "--data-dir", str(data_dir),
                       "--out", str(table), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert len(printed["rows"]) == 3 and printed["scored_on"] in table.read_text()
    assert table.read_text().count("\n| `") == 3
    assert train_main(["ensemble", str(tiny_run), str(tiny_run)]) == 2  # one clear line, not a traceback
    assert "listed twice" in capsys.readouterr().err
    np.testing.assert_equal(printed["rows"][2]["members"], [str(tiny_run), str(second_run)])
