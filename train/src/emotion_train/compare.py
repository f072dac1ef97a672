"""Several runs side by side in one Markdown table, such as the original study's comparison of
a network trained from scratch, the same with augmentation, and transfer learning.

A run folder's `report/report.json` (or a report folder's `report.json`) is read first; a run
from before reports existed still shows its run.json numbers, with no AUC. For training runs the
table also says what each changed against the first run (so a lever's row names its lever), the
epoch the validation split selected and the training accuracy there (the overfitting gap), and
which faces scored it (PublicTest, or the validation split for a `--no-test` lever run).
"""

from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from emotion_train.report import REPORT_JSON
from emotion_train.run_configs import VALIDATION_SPLIT, TrainConfig, run_origin

MISSING = "–"


@dataclass
class ComparedRun:
    name: str
    architecture: str | None = None
    origin: str | None = None
    augment: bool | None = None
    label_source: str | None = None
    epochs: int | None = None
    parameters: int | None = None
    accuracy: float | None = None
    macro_f1: float | None = None
    macro_auc: float | None = None
    per_class_f1: dict[str, float] = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    selected_epoch: int | None = None
    train_accuracy_selected: float | None = None
    scored_on: str | None = None


# Settings that say where a run's files are, not how it trained: never a "change".
NOT_A_SETTING = frozenset({"out_dir", "data_dir"})


def _selected_epoch(run_folder: Path) -> tuple[int | None, float | None]:
    """(1-based epoch, its training accuracy) with the best validation accuracy in history.csv;
    the first of equals, as Keras' ModelCheckpoint keeps it."""
    history = run_folder / "history.csv"
    if not history.is_file():
        return None, None
    with history.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("val_accuracy")]
    if not rows:
        return None, None
    best = max(rows, key=lambda row: float(row["val_accuracy"]))  # max keeps the first of equals
    return int(best["epoch"]) + 1, float(best["accuracy"])


def _run_folder(path: Path) -> Path:
    """The run folder of a run folder, its report folder or a report.json in it."""
    folder = path.parent if path.is_file() else path
    return folder.parent if folder.name == "report" else folder


def run_histories(paths: list[Path]) -> dict[str, dict[str, list[float]]]:
    """{run name: its history.csv as columns} for each run folder that has one."""
    from emotion_train.report import read_history

    histories = {}
    for path in paths:
        folder = _run_folder(Path(path))
        if (folder / "history.csv").is_file():
            histories[folder.name] = read_history(folder / "history.csv")
    return histories


# A run recorded before an option existed trained with that option's default.
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)
             if f.default is not dataclasses.MISSING}


def _setting(run: ComparedRun, key: str) -> object:
    return run.config.get(key, _DEFAULTS.get(key))


def changed_settings(run: ComparedRun, reference: ComparedRun) -> str:
    """`key=value` for each training setting in which `run` differs from `reference`."""
    keys = sorted((set(run.config) | set(reference.config)) - NOT_A_SETTING)
    changes = [f"{key}={_setting(run, key)}" for key in keys
               if _setting(run, key) != _setting(reference, key)]
    return ", ".join(changes) if changes else "(same)"


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _find(path: Path) -> tuple[dict | None, dict | None, str]:
    """(report.json, run.json, run name) for a run folder, a report folder or a report.json file.

    A run keeps its report in <run>/report/, so a folder named "report" is named after its run.
    """
    if path.is_file():
        report = _read_json(path)
    else:
        report = _read_json(path / "report" / REPORT_JSON) or _read_json(path / REPORT_JSON)
    run_folder = _run_folder(path)
    return report, _read_json(run_folder / "run.json"), run_folder.name


def load_compared(path: Path, validation_only: bool = False) -> ComparedRun:
    """A run or report as one row. With `validation_only` every run is scored on its validation
    split (its run.json), so a lever run compares with a run that also scored PublicTest."""
    path = Path(path)
    report, run, name = _find(path)
    run_folder = _run_folder(path)
    if report is None and run is None:
        raise FileNotFoundError(f"{path}: no report.json, report/report.json or run.json")
    record = run or {}
    if validation_only:
        if not (record.get("metrics") or {}).get("val"):
            raise ValueError(f"{path}: no validation-split metrics in run.json to compare on")
        if not str((report or {}).get("context", {}).get("data", "")).startswith(VALIDATION_SPLIT):
            report = None  # it describes PublicTest
    config = record.get("config", {})
    context = (report or {}).get("context", {})

    def pick(key: str, from_run):
        """The report's context says what was evaluated; run.json fills what it leaves out."""
        value = context.get(key)
        return from_run if value is None else value

    compared = ComparedRun(
        name=name,
        architecture=pick("architecture", record.get("architecture", config.get("architecture"))),
        origin=pick("from", run_origin(record) if run else None),
        augment=pick("augment", config.get("augment")),
        label_source=pick("label_source", config.get("label_source")),
        epochs=pick("epochs", record.get("epochs_completed")),
        parameters=pick("parameters", record.get("parameters")),
        config=dict(config),
        scored_on=context.get("data"),
    )
    compared.selected_epoch, compared.train_accuracy_selected = _selected_epoch(run_folder)
    if report is not None:
        compared.accuracy = report["accuracy"]
        compared.macro_f1 = report["macro_f1"]
        compared.macro_auc = report["roc_auc"]["macro"]
        compared.per_class_f1 = {label: row["f1"] for label, row in report["per_class"].items()}
    else:
        metrics = record["metrics"]
        on_test = bool(metrics.get("test")) and not validation_only  # PublicTest, else the validation split
        scored = metrics["test"] if on_test else metrics["val"]
        compared.accuracy, compared.macro_f1 = scored["accuracy"], scored["macro_f1"]
        compared.per_class_f1 = dict(scored["per_class_f1"])
        if not on_test:
            val = record["data"]["val"]
            compared.scored_on = f"{VALIDATION_SPLIT} ({val['faces']} faces of {Path(val['file']).name})"
    return compared


def _cell(value) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def comparison_table(runs: list[ComparedRun]) -> str:
    """A Markdown table, one row per run; per-class F1 columns cover every run's labels."""
    labels: list[str] = []
    for run in runs:
        labels += [label for label in run.per_class_f1 if label not in labels]
    header = ["run", "architecture", "from", "augmentation", "labels", "epochs", "parameters",
              "accuracy", "macro-F1", "macro AUC", *(f"F1 {label}" for label in labels),
              "changed vs the first run", "selected epoch", "training accuracy there", "scored on"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for index, run in enumerate(runs):
        changes = ("(reference)" if index == 0 else changed_settings(run, runs[0])) if run.config else None
        cells = [run.name, run.architecture, run.origin, run.augment, run.label_source, run.epochs,
                 run.parameters, run.accuracy, run.macro_f1, run.macro_auc,
                 *(run.per_class_f1.get(label) for label in labels),
                 changes, run.selected_epoch, run.train_accuracy_selected, run.scored_on]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"
