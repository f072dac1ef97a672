"""The prior correction: folded into the head it changes the scores exactly as dividing them by
w ** tau does; a training run applies it to the model it keeps; `emotion-train prior` scores it
on the validation split only."""

import json

import keras
import numpy as np
import pytest

from emotion_device.preprocess import to_model_input
from emotion_train.cli import main as train_main
from emotion_train.prior_correction import adjusted_scores, fold_into_head
from emotion_train.prior_sweep import run_class_weights, sweep
from emotion_train.run_data import run_datasets
from emotion_train.training import TrainConfig, train


def test_folding_into_the_head_divides_the_scores_by_the_weighted_prior(tiny_run, data_dir):
    record = json.loads((tiny_run / "run.json").read_text())
    faces = to_model_input(run_datasets(record, str(data_dir)).val.x)
    model = keras.models.load_model(tiny_run / "model.keras", compile=False)
    weights = run_class_weights(record)
    assert weights.std() > 0.1, "FER2013's classes are unbalanced, so sqrt weights differ"
    before = model.predict(faces, verbose=0)

    shift = fold_into_head(model, weights, 0.5)

    np.testing.assert_allclose(shift, -0.5 * np.log(weights), atol=1e-6)
    np.testing.assert_allclose(model.predict(faces, verbose=0), adjusted_scores(before, weights, 0.5),
                               atol=1e-5)
    rare = int(np.argmax(weights))
    assert (adjusted_scores(before, weights, 0.5)[:, rare] < before[:, rare]).all(), \
        "the most up-weighted class loses score on every face"


def test_a_negative_correction_is_refused_before_training_starts(tiny_run, tmp_path):
    model = keras.models.load_model(tiny_run / "model.keras", compile=False)
    with pytest.raises(ValueError, match="0 or more"):
        fold_into_head(model, np.ones(7), -0.25)
    with pytest.raises(ValueError, match="0 or more"):
        train(TrainConfig(out_dir=str(tmp_path / "never"), prior_correction=-0.25))
    assert not (tmp_path / "never").exists()


def test_a_run_with_a_prior_correction_keeps_and_records_the_corrected_model(tmp_path, data_dir):
    out = tmp_path / "corrected"
    record = train(TrainConfig(out_dir=str(out), architecture="edge", epochs=1, batch_size=32, limit=320,
                               val_limit=64, data_dir=str(data_dir), jit_compile=False,
                               prior_correction=0.25))
    weights = np.array(list(record["class_weights"].values()))
    correction = record["prior_correction"]
    assert correction["tau"] == 0.25 and list(correction["bias_shift"]) == record["labels"]
    np.testing.assert_allclose(list(correction["bias_shift"].values()), -0.25 * np.log(weights), atol=1e-3)
    # The reported validation metrics are those of the kept (corrected) network.
    kept = keras.models.load_model(out / "model.keras", compile=False)
    val = run_datasets(record, str(data_dir)).val
    predicted = kept.predict(to_model_input(val.x), verbose=0).argmax(1)
    assert record["metrics"]["val"]["accuracy"] == pytest.approx(float((predicted == val.y).mean()), abs=1e-4)
    with pytest.raises(ValueError, match="already holds a prior correction"):
        sweep([out], data_root=str(data_dir))


def test_a_run_on_all_of_training_folds_the_correction_into_its_last_epoch(tmp_path, data_dir):
    """The merged-back final recipe (--val-fraction 0): no split to select on, tau chosen
    beforehand; PublicTest is scored on the corrected network."""
    out = tmp_path / "merged"
    record = train(TrainConfig(out_dir=str(out), architecture="edge", epochs=1, batch_size=32, limit=320,
                               val_limit=64, val_fraction=0.0, data_dir=str(data_dir), jit_compile=False,
                               prior_correction=0.25))
    assert record["data"]["val"] is None and record["selection"].startswith("last epoch")
    assert record["data"]["train"]["faces"] == 320 and record["prior_correction"]["tau"] == 0.25
    kept = keras.models.load_model(out / "model.keras", compile=False)
    test = run_datasets(record, str(data_dir)).test
    predicted = kept.predict(to_model_input(test.x), verbose=0).argmax(1)
    accuracy = float((predicted == test.y).mean())
    assert record["metrics"]["test"]["accuracy"] == pytest.approx(accuracy, abs=1e-4)


def test_the_sweep_scores_each_tau_on_the_validation_split(tiny_run, data_dir, tmp_path):
    record = json.loads((tiny_run / "run.json").read_text())
    labels, rows = sweep([tiny_run], (0.0, 1.0), str(data_dir))
    assert labels == record["labels"] and [row.tau for row in rows] == [0.0, 1.0]
    assert rows[0].accuracy == record["metrics"]["val"]["accuracy"], "tau 0 is the run itself"
    assert set(rows[1].recall) == set(labels)

    table = tmp_path / "prior.md"
    assert train_main(["prior", str(tiny_run), "--taus", "0", "0.5", "--data-dir", str(data_dir),
                       "--out", str(table)]) == 0
    lines = table.read_text().splitlines()
    assert len(lines) == 4 and lines[2].startswith(f"| `{tiny_run}` | 0 | ")


def test_fold_prior_writes_a_corrected_copy_of_a_finished_run(tiny_run, data_dir, tmp_path):
    source = (tiny_run / "run.json").read_text()
    out = tmp_path / "folded"
    assert train_main(["fold-prior", str(tiny_run), "--tau", "0.5", "--out", str(out),
                       "--data-dir", str(data_dir)]) == 0

    folded = json.loads((out / "run.json").read_text())
    faces = to_model_input(run_datasets(folded, str(data_dir)).val.x)
    before = keras.models.load_model(tiny_run / "model.keras", compile=False).predict(faces, verbose=0)
    after = keras.models.load_model(out / "model.keras", compile=False).predict(faces, verbose=0)
    np.testing.assert_allclose(after, adjusted_scores(before, run_class_weights(folded), 0.5), atol=1e-5)
    _, rows = sweep([tiny_run], (0.5,), str(data_dir))
    assert folded["metrics"]["val"]["accuracy"] == pytest.approx(rows[0].accuracy, abs=1e-4), \
        "the folded model scores what the sweep promised for that tau"
    assert "test" not in folded["metrics"], "PublicTest is scored by the conversion, once"
    assert folded["prior_correction"]["tau"] == 0.5
    assert folded["prior_correction"]["folded_into"] == str(tiny_run)
    assert folded["prior_correction"]["command"].startswith("emotion-train fold-prior ")
    assert (tiny_run / "run.json").read_text() == source, "the source run is left as it was"
    assert (out / "history.csv").read_text() == (tiny_run / "history.csv").read_text()
    with pytest.raises(ValueError, match="already holds a prior correction"):
        sweep([out], data_root=str(data_dir))
    assert train_main(["fold-prior", str(out), "--tau", "0.5", "--out", str(tmp_path / "twice"),
                       "--data-dir", str(data_dir)]) == 2
    assert train_main(["fold-prior", str(tiny_run), "--tau", "0.5", "--out", str(tiny_run),
                       "--data-dir", str(data_dir)]) == 2
