"""A short real training run, converted to int8, loads and runs on the device classifier."""

import json

import keras
import numpy as np
import pytest

from emotion_convert.cli import main as convert_main
from emotion_device.classifier import EmotionClassifier
from emotion_device.labels import LABEL_SETS
from emotion_device.model_card import sha256_of
from emotion_train.cli import main as train_main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("run")
    assert train_main(["train", "--out", str(out), "--limit", "384", "--val-limit", "256",
                       "--epochs", "1", "--data-dir", str(data_dir), "--no-jit"]) == 0
    return out


def test_training_writes_model_history_and_run_record(run_dir):
    record = json.loads((run_dir / "run.json").read_text())
    assert (run_dir / "model.keras").is_file()
    assert record["epochs_completed"] == 1
    assert record["command"].startswith("emotion-train train --out")
    assert record["labels"] == list(LABEL_SETS["emotion5"])
    assert record["data"]["train"]["faces"] + record["data"]["val"]["faces"] == 384
    assert record["data"]["test"]["faces"] == 256 and record["data"]["split"]["val_faces"] > 0
    assert {"tensorflow", "keras", "numpy"} <= set(record["versions"])
    assert 0 <= record["metrics"]["val"]["accuracy"] <= 1
    assert record["metrics"]["test"]["n"] == 256
    assert "test_fer2013_labels" in record["metrics"]
    assert not (run_dir / "backup").exists(), "a finished run leaves no resume backup behind"


def test_conversion_gives_an_int8_model_the_device_loads(run_dir, tmp_path, data_dir):
    rc = convert_main([str(run_dir / "model.keras"), "--name", "tiny", "--out-dir", str(tmp_path),
                       "--calibration", "64", "--data-dir", str(data_dir), "--min-agreement", "0"])
    assert rc == 0
    classifier = EmotionClassifier(tmp_path / "tiny.tflite")  # verifies sha256 against the card
    details = classifier.interpreter.get_input_details()[0]
    assert details["dtype"] == np.int8
    assert classifier.interpreter.get_output_details()[0]["dtype"] == np.int8
    scale, zero_point = details["quantization"]
    assert scale == pytest.approx(1.0, rel=0.02) and zero_point == -128  # raw pixels 0..255

    card = classifier.card
    assert card.labels == list(LABEL_SETS["emotion5"])
    assert card.training["command"].startswith("emotion-train train")
    assert card.training["conversion"]["command"].startswith("emotion-convert")
    assert card.architecture["macs"] > 1_000_000 and card.architecture["parameters"] > 10_000
    assert card.training["split"]["val_rows_sha256"] and card.training["selection"].startswith("best val")
    assert card.metrics["val"]["int8"]["n"] == card.training["split"]["val_faces"]
    metrics = card.metrics["test"]
    assert metrics["split"] == "FER2013 PublicTest" and metrics["int8"]["n"] == 256
    assert {"float", "int8", "int8_float_top1_agreement", "int8_accuracy_drop"} <= set(metrics)
    assert set(metrics["int8"]["per_class_f1"]) == set(card.labels)
    assert (tmp_path / "tiny.keras").is_file()
    assert card.training["prior_correction"] is None

    scores = classifier.scores(np.full((2, 48, 48, 1), 128, np.float32))
    assert scores.shape == (2, 5)
    np.testing.assert_allclose(scores.sum(1), 1.0, atol=0.03)

    # By default the converted network's activation ranges are equalized; the float reference
    # (and the parity check's float side) stays the trained network, unscaled.
    record = card.training["conversion"]["activation_equalization"]
    assert record["alpha"] == 0.5 and record["cap"] == 8.0
    assert record["pairs"] and all(pair["largest_scale"] >= 1.0 for pair in record["pairs"])
    trained = keras.models.load_model(run_dir / "model.keras", compile=False).get_weights()
    reference = keras.models.load_model(tmp_path / "tiny.keras", compile=False).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(trained, reference, strict=True))

    # Converting the same network again (here without equalization) keeps its float reference
    # byte for byte: a .keras file records when it was saved, so saving it again would change a
    # committed 12 MB file.
    reference_bytes = (tmp_path / "tiny.keras").read_bytes()
    assert convert_main([str(run_dir / "model.keras"), "--name", "tiny", "--out-dir", str(tmp_path),
                         "--calibration", "64", "--data-dir", str(data_dir), "--min-agreement", "0",
                         "--equalize", "0"]) == 0
    assert (tmp_path / "tiny.keras").read_bytes() == reference_bytes
    card = EmotionClassifier(tmp_path / "tiny.tflite").card
    assert card.training["conversion"]["activation_equalization"] is None
    assert card.training["conversion"]["float_reference"]["sha256"] == sha256_of(tmp_path / "tiny.keras")


def test_a_run_with_the_prior_correction_folded_in_converts_and_says_so(run_dir, tmp_path, data_dir):
    folded = tmp_path / "folded"
    assert train_main(["fold-prior", str(run_dir), "--tau", "0.25", "--out", str(folded),
                       "--data-dir", str(data_dir)]) == 0
    assert convert_main([str(folded / "model.keras"), "--name", "tiny", "--out-dir", str(tmp_path / "m"),
                         "--calibration", "64", "--data-dir", str(data_dir), "--min-agreement", "0",
                         "--no-keras-copy"]) == 0
    card = EmotionClassifier(tmp_path / "m" / "tiny.tflite").card
    correction = card.training["prior_correction"]
    assert correction["tau"] == 0.25 and correction["folded_into"] == str(run_dir)
    assert card.training["command"].startswith("emotion-train train"), "the training command is kept"
    assert card.metrics["test"]["int8"]["n"] == 256, "the conversion scores PublicTest, once"


def test_equalization_and_quantization_aware_training_are_exclusive(run_dir, tmp_path):
    with pytest.raises(SystemExit) as refused:  # QAT learns its own ranges: one or the other
        convert_main([str(run_dir / "model.keras"), "--name", "tiny", "--out-dir", str(tmp_path),
                      "--equalize", "0.5", "--qat-epochs", "1"])
    assert refused.value.code == 2


def test_the_equalization_sweep_counts_disagreements_per_alpha(run_dir, tmp_path, data_dir):
    from emotion_convert.equalize_sweep import main as sweep_main

    out = tmp_path / "sweep.md"
    assert sweep_main([str(run_dir / "model.keras"), "--run", str(run_dir / "run.json"),
                       "--data-dir", str(data_dir), "--alpha", "0.5", "--calibration", "64",
                       "--faces", "100", "--out", str(out)]) == 0
    rows = [line.split(" | ") for line in out.read_text().splitlines() if line.startswith("| 0")]
    assert [row[0] for row in rows] == ["| 0.5"]
    record = json.loads((run_dir / "run.json").read_text())
    assert f"validation ({record['data']['val']['faces']:,})" in out.read_text()
    assert "training faces (100)" in out.read_text()
    for row in rows:  # "N (T) | N-T" for each sample: ties are part of the disagreements
        for counted, not_ties in ((row[1], row[2]), (row[3], row[4].rstrip(" |"))):
            total, ties = counted.replace("(", "").replace(")", "").split()
            assert int(total) - int(ties) == int(not_ties) >= 0


def test_a_lever_run_reads_publictest_only_when_it_is_shipped(tmp_path, data_dir):
    """A --no-test run converts without PublicTest; --score-test scores it once, as a scoring run
    would have (the same --val-limit), and the card still says training never read it."""
    lever = tmp_path / "lever"
    assert train_main(["train", "--out", str(lever), "--limit", "384", "--val-limit", "256", "--epochs", "1",
                       "--no-test", "--data-dir", str(data_dir), "--no-jit"]) == 0
    common = [str(lever / "model.keras"), "--name", "tiny", "--calibration", "64", "--data-dir",
              str(data_dir), "--min-agreement", "0", "--no-keras-copy"]
    assert convert_main([*common, "--out-dir", str(tmp_path / "trial")]) == 0
    trial = json.loads((tmp_path / "trial" / "tiny.json").read_text())
    assert "test" not in trial["metrics"] and "val" in trial["metrics"]
    assert convert_main([*common, "--out-dir", str(tmp_path / "shipped"), "--score-test"]) == 0
    card = EmotionClassifier(tmp_path / "shipped" / "tiny.tflite").card
    assert card.metrics["test"]["split"] == "FER2013 PublicTest" and card.metrics["test"]["int8"]["n"] == 256
    assert card.metrics["val"] == trial["metrics"]["val"], "the same model, the same validation faces"
    assert "--no-test" in card.training["command"]


def test_a_finished_run_is_not_overwritten(run_dir, data_dir, capsys):
    history = (run_dir / "history.csv").read_text()
    assert train_main(["train", "--out", str(run_dir), "--limit", "64", "--epochs", "1",
                       "--data-dir", str(data_dir)]) == 2
    assert "holds a finished run" in capsys.readouterr().err
    assert (run_dir / "history.csv").read_text() == history


def test_the_separable_network_trains_converts_and_runs_as_full_int8(tmp_path, data_dir):
    """edge-separable, the network for CPUs without int8 dot products: its depthwise and
    pointwise convolutions become int8 kernels, and equalization rescales only through the
    pointwise ones (a depthwise convolution is followed by its own BatchNormalization)."""
    run = tmp_path / "run"
    assert train_main(["train", "--arch", "edge-separable", "--label-set", "ferplus8",
                       "--labels", "ferplus-soft", "--out", str(run), "--limit", "256",
                       "--val-limit", "128", "--epochs", "1",
                       "--data-dir", str(data_dir), "--no-jit", "--no-test"]) == 0
    assert convert_main([str(run / "model.keras"), "--name", "separable", "--out-dir", str(tmp_path),
                         "--calibration", "64", "--data-dir", str(data_dir), "--min-agreement", "0"]) == 0
    classifier = EmotionClassifier(tmp_path / "separable.tflite")
    assert classifier.card.architecture["macs"] == 12_567_808
    assert classifier.card.architecture["parameters"] == 547_976

    ops = classifier.interpreter._get_ops_details()
    tensors = {tensor["index"]: tensor for tensor in classifier.interpreter.get_tensor_details()}
    convolutions = [op for op in ops if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    assert sum(op["op_name"] == "DEPTHWISE_CONV_2D" for op in convolutions) == 7
    assert all(tensors[op["inputs"][1]]["dtype"] == np.int8 for op in convolutions)
    assert all(tensors[op["outputs"][0]]["dtype"] == np.int8 for op in convolutions)

    pairs = classifier.card.training["conversion"]["activation_equalization"]["pairs"]
    assert pairs and all(pair["consumer"].endswith("_pw") or pair["consumer"] == "scores" for pair in pairs)
    scores = classifier.scores(np.full((2, 48, 48, 1), 128, np.float32))
    assert scores.shape == (2, 8)
    np.testing.assert_allclose(scores.sum(1), 1.0, atol=0.03)
