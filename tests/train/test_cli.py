"""The emotion-train commands: help, the report every training run ends with, compare."""

import json
import shutil
import subprocess
import sys

import pytest

from emotion_train.cli import main as train_main
from emotion_train.report import PLOT_FILES

RUN_RECORD_KEYS = {"config", "command", "labels", "data", "class_weights", "parameters",
                   "train_seconds", "train_pieces", "selection", "finished", "versions", "metrics",
                   "epochs_completed"}


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("train", "finetune", "evaluate", "compare", "calibrate-crop", "make-subset"):
        assert f"    {command} " in text or f"    {command}\n" in text, command


@pytest.mark.parametrize("command", [["emotion-train", "--help"], ["emotion-train", "train", "--help"],
                                     ["emotion-train", "finetune", "--help"], ["emotion-convert", "--help"]])
def test_help_is_quiet_and_loads_no_tensorflow(command):
    """No TensorFlow/oneDNN banner on stderr: help texts never import TensorFlow."""
    module = {"emotion-train": "emotion_train.cli", "emotion-convert": "emotion_convert.cli"}[command[0]]
    code = (f"import sys\nfrom {module} import main\ntry:\n    main({command[1:]!r})\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def test_the_cli_offers_every_architecture_there_is():
    from emotion_train.architectures import ARCHITECTURES
    from emotion_train.run_configs import ARCHITECTURE_NAMES

    assert tuple(ARCHITECTURES) == ARCHITECTURE_NAMES


def test_every_training_run_ends_with_its_report(tiny_run):
    record = json.loads((tiny_run / "run.json").read_text())
    assert set(record) >= RUN_RECORD_KEYS, "the converter reads these fields"
    report = json.loads((tiny_run / "report" / "report.json").read_text())
    for name in PLOT_FILES.values():
        assert (tiny_run / "report" / name).is_file(), name
    val = record["metrics"]["test"]  # the report is PublicTest's, scored once on the selected model
    assert report["n"] == val["n"] == 96
    assert report["accuracy"] == val["accuracy"] and report["macro_f1"] == val["macro_f1"]
    assert {label: row["f1"] for label, row in report["per_class"].items()} == val["per_class_f1"]
    assert report["context"]["epochs"] == 1 and report["context"]["architecture"] == "edge"
    assert report["history"]["epochs"] == 1


def test_compare_puts_runs_and_reports_side_by_side(tiny_run, finetune_run, tmp_path, capsys):
    legacy = tmp_path / "legacy"  # a run from before reports: run.json only
    legacy.mkdir()
    shutil.copy(tiny_run / "run.json", legacy / "run.json")
    out = tmp_path / "comparison.md"
    assert train_main(["compare", str(tiny_run), str(finetune_run / "report"), str(legacy),
                       "--out", str(out)]) == 0
    table = out.read_text()
    assert capsys.readouterr().out == table
    header, rule, scratch, transfer, old = table.strip().splitlines()
    assert header.startswith("| run | architecture | from | augmentation | labels | epochs | parameters | "
                             "accuracy | macro-F1 | macro AUC | F1 angry |")
    assert header.count("|") == rule.count("|") == scratch.count("|")
    assert scratch.startswith(f"| {tiny_run.name} | edge | scratch | yes | fer2013 | 1 |")
    assert transfer.startswith(f"| {finetune_run.name} | edge | {tiny_run / 'model.keras'} | yes |")
    report = json.loads((tiny_run / "report" / "report.json").read_text())
    assert f"| {report['roc_auc']['macro']:.4f} |" in scratch
    assert old.split(" | ")[9] == "–", "no AUC without a report"
    *_, changes, epoch, train_accuracy, scored_on = scratch.strip("| ").split(" | ")
    assert (changes, epoch) == ("(reference)", "1")  # a 1-epoch run selects its only epoch
    assert 0 <= float(train_accuracy) <= 1 and scored_on == report["context"]["data"]
    assert old.strip("| ").split(" | ")[-4] == "(same)", "a copy of the first run changes nothing"


def test_compare_on_the_validation_split_ignores_a_publictest_report(tiny_run, tmp_path, capsys):
    record = json.loads((tiny_run / "run.json").read_text())
    assert train_main(["compare", str(tiny_run), "--validation-split"]) == 0
    _, _, row = capsys.readouterr().out.strip().splitlines()
    cells = row.strip("| ").split(" | ")
    assert float(cells[7]) == record["metrics"]["val"]["accuracy"]
    assert cells[9] == "–", "no AUC: the report holds PublicTest's"
    assert cells[-1] == f"the validation split ({record['data']['val']['faces']} faces of fer2013_train.npz)"
    assert cells[2] == "scratch"
    warm = tmp_path / "warm"  # warm-started (--init-from): the run.json alone names the origin
    warm.mkdir()
    (warm / "run.json").write_text(json.dumps({**record, "config": {**record["config"],
                                                                    "init_from": "runs/base/model.keras"}}))
    assert train_main(["compare", str(warm), "--validation-split"]) == 0
    warm_row = capsys.readouterr().out.strip().splitlines()[-1]
    assert warm_row.strip("| ").split(" | ")[2] == "runs/base/model.keras"
    no_split = tmp_path / "no-split"  # a run that kept its last epoch has nothing to compare on
    no_split.mkdir()
    (no_split / "run.json").write_text(json.dumps({**record, "metrics": {"test": record["metrics"]["test"]}}))
    assert train_main(["compare", str(no_split), "--validation-split"]) == 2
    assert "no validation-split metrics" in capsys.readouterr().err


def test_compare_plots_the_runs_curves_beside_the_table(tiny_run, tmp_path, capsys):
    out, plot = tmp_path / "docs" / "levers.md", tmp_path / "docs" / "levers.png"
    assert train_main(["compare", str(tiny_run), "--out", str(out), "--plot", str(plot)]) == 0
    assert plot.stat().st_size > 0 and out.read_text().endswith("![accuracy per epoch](levers.png)\n")
    lonely = tmp_path / "report-only"  # a report without a run's history.csv cannot be plotted
    shutil.copytree(tiny_run / "report", lonely)
    assert train_main(["compare", str(lonely), "--plot", str(tmp_path / "x.png")]) == 2
    assert "none of these has a history.csv" in capsys.readouterr().err


def test_a_lever_run_is_named_by_the_settings_it_changed():
    from emotion_train.compare import ComparedRun, changed_settings

    base = ComparedRun("base", config={"mixup": 0.0, "optimizer": "adamw", "out_dir": "runs/levers/base"})
    mixup = ComparedRun("mixup", config={"mixup": 0.2, "optimizer": "adamw", "out_dir": "runs/levers/mixup"})
    sgd = ComparedRun("sgd", config={"mixup": 0.0, "optimizer": "sgd", "learning_rate": 0.05})
    assert changed_settings(mixup, base) == "mixup=0.2"  # where the files went is not a setting
    older = ComparedRun("older", config={"optimizer": "adamw", "out_dir": "runs/levers/older"})
    assert changed_settings(older, base) == "(same)", "an option missing from an older run is its default"
    assert changed_settings(sgd, base) == "learning_rate=0.05, optimizer=sgd"
    assert changed_settings(base, base) == "(same)"
