"""Fine-tuning defaults for a user's own photos: validation split from their folder (grouped by
person on request), labels from the base model, the base's head kept when the labels match."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from emotion_device.labels import LABEL_SETS
from emotion_device.preprocess import to_model_input
from emotion_train.cli import main as train_main
from emotion_train.finetune import FinetuneConfig, build_transfer_model, keep_base_head, split_folder
from emotion_train.folder_split import group_id
from emotion_train.image_folder import load_image_folder
from tests.conftest import MODELS
from tests.train.conftest import PEOPLE


def _person(relative_path: str) -> str:
    return relative_path.split("/")[1]  # <label>/<person>/<file>


def test_the_grouped_split_never_puts_a_person_on_both_sides(people_folder):
    folder = load_image_folder(people_folder, "emotion5")
    person_of = [Path(f).parent.name for f in folder.files]
    for seed in range(20):
        config = FinetuneConfig(base_model="", train_data=str(people_folder), out_dir="",
                                group_by="subfolder", seed=seed)
        split = split_folder(folder, config)
        train_people = {person_of[i] for i in split.train}
        val_people = {person_of[i] for i in split.val}
        assert train_people and val_people and not train_people & val_people, f"seed {seed}"
        assert len(split.train) + len(split.val) == len(folder.data)
        assert set(folder.data.y[split.val]) == set(range(5)), "every class is validated"
    # A plain stratified split would mix people: that is what the group rule is for.
    plain = split_folder(folder, FinetuneConfig(base_model="", train_data="", out_dir=""))
    assert {person_of[i] for i in plain.train} & {person_of[i] for i in plain.val}


def test_finetune_records_a_grouped_split_with_no_shared_person(people_folder, tiny_run, tmp_path):
    out = tmp_path / "run"
    assert train_main(["finetune", "--base", str(tiny_run / "model.keras"), "--data", str(people_folder),
                       "--group-by", "subfolder", "--head-epochs", "1", "--finetune-epochs", "0",
                       "--out", str(out), "--no-jit"]) == 0
    record = json.loads((out / "run.json").read_text())
    val = record["data"]["val"]
    assert "grouped by person/session" in val["split"]
    val_people = {_person(path) for path in val["files"]}
    every_file = {p.relative_to(people_folder).as_posix() for p in people_folder.rglob("*.png")}
    train_people = {_person(path) for path in every_file - set(val["files"])}
    assert not val_people & train_people
    assert len(val_people) + len(train_people) == PEOPLE
    assert record["data"]["train"]["faces"] + val["faces"] == len(every_file)


def test_group_rules_read_subfolders_file_name_prefixes_and_patterns(tmp_path):
    root = tmp_path
    assert group_id(str(root / "happy" / "anna" / "01.jpg"), root, "subfolder") == "anna"
    assert group_id(str(root / "happy" / "anna_01.jpg"), root, "prefix") == "anna"
    assert group_id(str(root / "sad" / "s03-sad-2.png"), root, "prefix") == "s03"
    assert group_id(str(root / "sad" / "x_s03_take2.png"), root, r"(s\d+)") == "s03"
    with pytest.raises(ValueError, match="sits directly in its class folder"):
        group_id(str(root / "happy" / "01.jpg"), root, "subfolder")
    with pytest.raises(ValueError, match="does not match"):
        group_id(str(root / "happy" / "01.jpg"), root, r"(s\d+)")


def test_a_validation_folder_sharing_a_person_with_training_is_refused(people_folder, tiny_run, tmp_path):
    rc = train_main(["finetune", "--base", str(tiny_run / "model.keras"), "--data", str(people_folder),
                     "--val-data", str(people_folder), "--group-by", "subfolder", "--out", str(tmp_path),
                     "--no-jit"])
    assert rc == 2 and not (tmp_path / "run.json").exists()


def _head_scores(model, faces):
    return model.predict(to_model_input(faces), verbose=0)


def test_the_base_head_is_kept_when_the_labels_match_or_are_a_subset(people_folder):
    faces = load_image_folder(people_folder, "emotion5").data.x[:40]
    base = keras.models.load_model(MODELS / "emotion5.keras")
    model = build_transfer_model(base, 5, dropout=0.3)
    assert keep_base_head(model, base, LABEL_SETS["emotion5"], LABEL_SETS["emotion5"]) == "base"
    np.testing.assert_allclose(_head_scores(model, faces), _head_scores(base, faces), atol=1e-5)

    fer7 = keras.models.load_model(MODELS / "fer7.keras")
    five = build_transfer_model(fer7, 5, dropout=0.3)
    assert keep_base_head(five, fer7, LABEL_SETS["fer7"], LABEL_SETS["emotion5"]) == "base-subset"
    columns = [LABEL_SETS["fer7"].index(label) for label in LABEL_SETS["emotion5"]]
    expected = _head_scores(fer7, faces)[:, columns]
    renormalized = expected / expected.sum(1, keepdims=True)
    np.testing.assert_allclose(_head_scores(five, faces), renormalized, atol=1e-5)

    fresh = build_transfer_model(base, 8, dropout=0.3)
    assert keep_base_head(fresh, base, LABEL_SETS["emotion5"], LABEL_SETS["ferplus8"]) == "new"


def test_the_label_set_and_class_order_come_from_the_base(people_folder, tmp_path):
    """models/fer7.keras (its card names fer7) fine-tuned with no --label-set learns fer7, in fer7's
    order, and starts from fer7's own head."""
    out = tmp_path / "run"
    assert train_main(["finetune", "--base", str(MODELS / "fer7.keras"), "--data", str(people_folder),
                       "--head-epochs", "1", "--finetune-epochs", "0", "--out", str(out), "--no-jit"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["label_set"] == "fer7" and record["labels"] == list(LABEL_SETS["fer7"])
    assert record["head_init"] == "base" and record["phases"][0]["head_init"] == "base"
    assert record["label_source"] == "folder"
