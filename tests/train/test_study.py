"""The study's machinery on real FER2013 faces, with one-epoch recipes: the 260 faces are
make-subset's, the learning-curve subsets are nested, cross-validation never trains on its
test fold, units are cached, and the tables, plots and README block are generated from them."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from emotion_device.model_card import sha256_of
from emotion_train import study as study_module
from emotion_train.cli import main as train_main
from emotion_train.study import Study
from emotion_train.study_tables import BEGIN, END, write_study_docs


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory, data_dir):
    """scratch and augmented for one epoch each, 5 CV folds and one PublicTest seed."""
    patch = pytest.MonkeyPatch()
    for name in ("scratch", "augmented"):
        patch.setitem(study_module.RECIPES, name, replace(study_module.RECIPES[name], max_epochs=1))
    out = tmp_path_factory.mktemp("study")
    study = Study(out, str(data_dir))
    cv = study.cross_validation(["scratch"])
    public = study.publictest(["scratch", "augmented"], seeds=(1,))
    yield study, cv, public
    patch.undo()


def test_the_260_faces_are_make_subsets_and_the_curve_subsets_are_nested(quick_study, data_dir, tmp_path):
    study, _, _ = quick_study
    assert len(study.faces260) == 260 and set(study.faces260.class_counts().values()) == {52}
    assert train_main(["make-subset", "--per-class", "52", "--out", str(tmp_path),
                       "--data-dir", str(data_dir)]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {r for rows in manifest["rows"].values() for r in rows} == set(study.faces260.rows.tolist())
    thousand, five_thousand = study.curve_faces("1000"), study.curve_faces("5000")
    assert len(thousand) == 1000 and len(five_thousand) == 5000
    assert set(study.faces260.rows) <= set(thousand.rows) <= set(five_thousand.rows)
    assert len(study.curve_faces("all")) == len(study.training)


def test_cross_validation_tests_each_face_once_and_never_trains_on_it(quick_study):
    study, cv, _ = quick_study
    assert [unit["fold"] for unit in cv] == [1, 2, 3, 4, 5]
    assert sum(unit["test_faces"] for unit in cv) == 260
    for unit in cv:
        # 208 training faces: 166 fit the weights, 42 stop early; the 52 test faces are apart.
        assert unit["train_faces"] + unit["val_faces"] + unit["test_faces"] == 260
        assert unit["epochs"] == 1 and 0 <= unit["metrics"]["macro_f1"] <= 1
        assert 0 <= unit["metrics"]["macro_auc"] <= 1
    first = sorted((study.out / "cv").glob("scratch-fold1.json"))[0]
    before = first.stat().st_mtime_ns
    again = study.cross_validation(["scratch"])  # cached: nothing is retrained
    assert first.stat().st_mtime_ns == before and again == cv


def test_a_unit_that_reads_the_backbone_runs_again_when_the_backbone_changes(quick_study):
    study, _, _ = quick_study
    unit = study.out / "publictest" / "backbone.json"
    recorded = json.loads(unit.read_text())
    assert recorded["backbone_sha256"] == sha256_of(Path(study_module.BASE_MODEL))
    scratch = study.out / "publictest" / "scratch-260-seed1.json"
    assert "backbone_sha256" not in json.loads(scratch.read_text())
    scratch_before = scratch.stat().st_mtime_ns
    unit.write_text(json.dumps({**recorded, "backbone_sha256": "0" * 64, "metrics": {"accuracy": -1}}))
    study.publictest(["scratch"], seeds=(1,))  # scratch is cached; the backbone answer is stale
    again = json.loads(unit.read_text())
    assert again["backbone_sha256"] == recorded["backbone_sha256"]
    assert again["metrics"] == recorded["metrics"]
    assert scratch.stat().st_mtime_ns == scratch_before


def test_publictest_units_score_all_of_publictest_and_report_the_first_seed(quick_study):
    study, _, public = quick_study
    assert {unit["model"] for unit in public} == {"scratch", "augmented"}
    for unit in public:
        assert unit["test_faces"] == len(study.public_test) == 3421
        assert unit["train_faces"] + unit["val_faces"] == 260
    report = json.loads((study.out / "reports" / "scratch-260" / "report.json").read_text())
    assert report["n"] == 3421 and report["history"]["epochs"] == 1


def test_tables_plots_and_the_readme_block_come_from_the_units(quick_study, tmp_path):
    study, cv, public = quick_study
    readme = tmp_path / "README.md"
    readme.write_text(f"# intro\n\n{BEGIN}\nold numbers\n{END}\n\n## next\n")
    docs = tmp_path / "docs"
    write_study_docs(study.out, docs, readme)
    text = readme.read_text()
    assert "old numbers" not in text and text.startswith("# intro") and text.endswith("## next\n")
    mean = np.mean([unit["metrics"]["accuracy"] for unit in cv])
    sd = np.std([unit["metrics"]["accuracy"] for unit in cv], ddof=1)
    assert f"{100 * mean:.1f}% ± {100 * sd:.1f}" in text, "the CV mean ± sd of the units"
    scratch_pt = next(u for u in public if u["model"] == "scratch")["metrics"]["accuracy"]
    assert f"{100 * scratch_pt:.1f}%" in text
    assert "majority-class answer" in text
    backbone = json.loads((study.out / "publictest" / "backbone.json").read_text())
    assert backbone["reference"] == "backbone" and backbone["metrics"]["accuracy"] > 0.7, \
        "the shipped emotion5, unchanged, is the bar transfer has to clear"
    assert "no fine-tuning" in text and f"{100 * backbone['metrics']['accuracy']:.1f}%" in text
    folds = sorted((study.out / "cv").glob("backbone-fold*.json"))
    assert len(folds) == 5 and all(json.loads(f.read_text())["fold"] == i + 1 for i, f in enumerate(folds))
    tables = (docs / "tables.md").read_text()
    assert "(not run)" in tables, "curve sizes that were not run are named, never filled in"
    augmented = next(u for u in public if u["model"] == "augmented")["metrics"]
    curve_row = next(line for line in tables.splitlines() if line.startswith("| augmented | "))
    assert f"F1 {augmented['macro_f1']:.3f}" in curve_row, "the curve shows macro-F1 beside accuracy"
    assert (docs / "learning_curve.png").is_file() and (docs / "cv_vs_publictest.png").is_file()
    assert (docs / "scratch" / "report.md").is_file()


def test_the_step_budget_binds_only_on_the_large_curve_points():
    # the study's recipes as the module defines them (quick_study shortens RECIPES for its units)
    augmented = study_module.Recipe("augmented", augment=True, max_epochs=150)
    transfer = study_module.Recipe("transfer", kind="transfer", batch_size=16, max_epochs=40)
    assert study_module.epochs_for(augmented, 208) == augmented.max_epochs  # 7 steps an epoch
    assert study_module.epochs_for(transfer, 208) == transfer.max_epochs
    assert study_module.epochs_for(augmented, 800) == augmented.max_epochs  # 1,000 faces
    assert study_module.epochs_for(augmented, 4000) == 80  # 125 steps an epoch, 10,000 steps
    assert study_module.epochs_for(augmented, 22710) == 14  # all of Training
    assert study_module.epochs_for(transfer, 22710) == 7
