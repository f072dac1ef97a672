"""Transfer learning: phase 1 trains only the new head, phase 2 only the top block (BN frozen)."""

import json

import keras
import numpy as np

from emotion_train.architectures import build
from emotion_train.finetune import (
    backbone_layers,
    build_transfer_model,
    conv_block_name,
    conv_blocks,
    freeze_backbone,
    unfreeze_top_blocks,
)
from emotion_train.image_folder import load_image_folder
from emotion_train.training import input_pipeline


def _snapshot(layers) -> dict[str, list[np.ndarray]]:
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in layers}


def _changed(before: dict, layers) -> set[str]:
    after = _snapshot(layers)
    return {name for name, weights in before.items()
            if any(not np.array_equal(a, b) for a, b in zip(weights, after[name]))}


def _fit_one_epoch(model, dataset, learning_rate):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy")
    model.fit(dataset, epochs=1, verbose=0, shuffle=False)


def test_phase_one_keeps_the_backbone_and_phase_two_trains_only_the_top_block(tiny_run, photo_folder):
    base = keras.models.load_model(tiny_run / "model.keras")
    model = build_transfer_model(base, 5, dropout=0.3)
    assert model.get_layer("scores").units == 5 and "pool" in [layer.name for layer in backbone_layers(model)]
    data = load_image_folder(photo_folder, "emotion5").data
    dataset = input_pipeline(data, 16, seed=0, weights=None, augmenter=None)

    freeze_backbone(model)
    backbone_before = _snapshot(backbone_layers(model))  # kernels and BN moving statistics
    head_before = _snapshot([model.get_layer("scores")])
    _fit_one_epoch(model, dataset, 1e-2)
    assert _changed(backbone_before, backbone_layers(model)) == set()
    assert _changed(head_before, [model.get_layer("scores")]) == {"scores"}

    assert conv_blocks(model) == ["stem", "stem_down", "block1", "block2", "block3"]
    assert unfreeze_top_blocks(model, 1) == ["block3a_conv"]
    assert not any(layer.trainable for layer in model.layers
                   if isinstance(layer, keras.layers.BatchNormalization))
    _fit_one_epoch(model, dataset, 1e-3)
    assert _changed(backbone_before, backbone_layers(model)) == {"block3a_conv"}


def test_finetune_run_writes_model_record_history_and_report(finetune_run, tiny_run, photo_folder):
    record = json.loads((finetune_run / "run.json").read_text())
    assert record["command"].startswith("emotion-train finetune --base")
    assert record["config"]["seed"] == 1234 and {"tensorflow", "keras", "numpy"} <= set(record["versions"])
    assert record["base_model"]["file"] == str(tiny_run / "model.keras")
    assert [phase["name"] for phase in record["phases"]] == ["head", "fine-tune"]
    assert record["phases"][0]["trainable_layers"] == ["scores"]
    assert record["phases"][1]["unfrozen_blocks"] == ["block3"]
    assert record["phases"][1]["learning_rate"] == record["phases"][0]["learning_rate"] / 10
    assert len(record["data"]["train"]["skipped"]) == 3
    # The default validation: a seeded, stratified 20% of the folder itself, never PublicTest.
    train, val = record["data"]["train"], record["data"]["val"]
    assert val["file"] == str(photo_folder) and val["labels"] == "folder"
    assert "stratified" in val["split"] and "seed 1234" in val["split"]
    # 45 photos, 9 per class: round(0.2 x 9) = 2 of each class held out
    assert val["faces"] + train["faces"] == 45 and val["faces"] == 10
    assert set(val["class_counts"].values()) == {2}
    assert record["metrics"]["val"]["split"] == val["split"] and record["metrics"]["val"]["n"] == 10
    assert record["epochs_completed"] == 2
    assert len((finetune_run / "history.csv").read_text().strip().splitlines()) == 1 + 2
    report = json.loads((finetune_run / "report" / "report.json").read_text())
    assert report["accuracy"] == record["metrics"]["val"]["accuracy"]
    assert report["history"]["marks"] == {"fine-tune": 1}
    assert (finetune_run / "report" / "history.png").is_file()

    # Below the top block nothing moved in either phase, BatchNormalization statistics included.
    tuned = keras.models.load_model(finetune_run / "model.keras")
    base = keras.models.load_model(tiny_run / "model.keras")
    for layer in backbone_layers(tuned):
        if layer.name != "block3a_conv":
            for a, b in zip(layer.get_weights(), base.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(a, b, err_msg=layer.name)


def test_other_models_are_cut_before_their_last_dense_layer():
    model = build_transfer_model(build("baseline", 7), 5, dropout=0.3)
    assert [layer.name for layer in model.layers][-3:] == ["fc_dropout", "dropout", "scores"]
    freeze_backbone(model)
    assert conv_blocks(model) == ["block1", "block2", "block3"]
    assert unfreeze_top_blocks(model, 1) == ["block3a_conv", "block3b_conv", "fc"]
    assert conv_block_name("conv2d_1") == "conv2d_1" and conv_block_name("block12b_conv") == "block12"
