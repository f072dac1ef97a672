"""The README's model results, generated from the model cards and a saved benchmark.

Every number in the results table is read from a file a measurement wrote: accuracy, macro-F1,
agreement, size, parameters, MACs and training time from `models/<name>.json` (written by
`emotion-convert`), latency from `benchmarks/results/<machine>.json` (written by
`emotion-device bench --save`). The README holds the generated text between two markers and a
test regenerates it, so a retrained model or a new benchmark can never leave stale numbers in
the README. Only the accuracy targets and the published reference points are constants here:
they are goals and citations, not measurements.

This module reads JSON only: it needs neither TensorFlow nor an interpreter.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emotion_convert.card import label_family
from emotion_device.labels import VOCABULARY
from emotion_device.model_card import ModelCard

log = logging.getLogger(__name__)

MARK_START = "<!-- results-table:start -->"
MARK_END = "<!-- results-table:end -->"
NOT_BENCHMARKED = "not benchmarked"
MISSING = "n/a"
WRAP = 100  # prose lines, like the README's own

# The latency the table quotes: one face, one interpreter thread, the shipped int8 model.
LATENCY_VARIANT, LATENCY_THREADS, LATENCY_BATCH = "int8", 1, 1


@dataclass(frozen=True)
class Target:
    """An accuracy goal for a model, on one family of labels ("fer2013" or "ferplus")."""

    accuracy: float
    labels: str


# The accuracy work's goals (int8 accuracy on FER2013 PublicTest).
TARGETS: dict[str, Target] = {
    "emotion5": Target(0.87, "ferplus"),
    "fer7": Target(0.70, "fer2013"),
    "ferplus8": Target(0.85, "ferplus"),
}

# Published figures, quoted for scale; never measured here. (name, classes, size, parameters,
# accuracy on FER2013's own 7-class labels)
REFERENCES: tuple[tuple[str, str, str, str, str], ...] = (
    ("best single networks", "7", "many MB", "", "~73%"),
    ("mini-Xception", "7", "", "60k", "~66%"),
)

COLUMNS = (
    "model", "classes", "measured against", "target (int8)", "size", "parameters", "MACs (M)",
    "PublicTest accuracy, float", "int8", "int8 = float top-1", "macro-F1 (int8)",
    "latency per face (int8, 1 thread)", "training",
)


class ReadmeMarkersError(ValueError):
    """The README lacks the markers that say where the generated table goes."""


# --- formatting: one function per kind of number, so the tests can format a card the same way


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def f1(value: float) -> str:
    return f"{value:.3f}"


def kilobytes(size: int) -> str:
    return f"{round(size / 1024)} KB"


def parameters(count: int) -> str:
    return f"{count / 1e6:.1f}M" if count >= 1_000_000 else f"{round(count / 1000)}k"


def mega_macs(macs: int) -> str:
    return f"{macs / 1e6:.1f}"


def milliseconds(value: float) -> str:
    return f"{value:.2f} ms"


def measured_against(labels: str) -> str:
    return {"ferplus": "FER+ majority", "fer2013": "FER2013 labels"}.get(label_family(labels), labels)


# --- reading the inputs


def load_cards(models_dir: Path) -> list[ModelCard]:
    """Every card in `models_dir` (its `*.json`), by name, so the table's order is stable."""
    cards = [ModelCard.load(path) for path in sorted(Path(models_dir).glob("*.json"))]
    if not cards:
        raise FileNotFoundError(f"no model cards (*.json) in {models_dir}")
    return sorted(cards, key=lambda card: card.name)


def newest_bench(bench_path: Path) -> Path:
    """`bench_path` itself, or for a folder the latest benchmark saved in it (by the date it
    records, not the file's mtime, which a fresh clone resets). Each machine saves its own file,
    so the README quotes whichever machine ran `make bench` last, with its name in the caption."""
    bench_path = Path(bench_path)
    if not bench_path.is_dir():
        return bench_path
    dated = []
    for path in sorted(bench_path.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("models") and data.get("date"):
            dated.append((str(data["date"]), path))
    if not dated:
        raise FileNotFoundError(f"no saved benchmark in {bench_path} (make bench writes one)")
    return max(dated)[1]


def load_bench(bench_path: Path) -> dict:
    try:
        return json.loads(Path(bench_path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"benchmark {bench_path} not found (make bench writes it)") from None


def latency_cell(card: ModelCard, bench: dict) -> str:
    """The benchmark's p50 for this model, or a statement of why there is none: a number is
    shown only when the benchmark timed a network with this card's parameters and MACs."""
    entry = next((m for m in bench.get("models", []) if m.get("model") == card.name), None)
    if entry is None:
        log.info("%s has no row in the benchmark", card.name)
        return NOT_BENCHMARKED
    for key in ("parameters", "macs"):
        if key in entry and key in card.architecture and entry[key] != card.architecture[key]:
            log.warning("the benchmark timed a different %s network (%s %s, the card says %s)",
                        card.name, key, entry[key], card.architecture[key])
            return f"{NOT_BENCHMARKED} (the benchmark timed a different {card.name})"
    row = next((r for r in entry.get("rows", []) if r.get("variant") == LATENCY_VARIANT
                and r.get("threads") == LATENCY_THREADS and r.get("batch") == LATENCY_BATCH), None)
    if row is None:
        log.info("the benchmark has no int8, 1-thread, batch-1 row for %s", card.name)
        return NOT_BENCHMARKED
    return milliseconds(row["p50_ms"])


# --- the cells of one model


def _accuracy_on(card: ModelCard, family: str) -> float | None:
    """The int8 PublicTest accuracy against `family` labels, from whichever test block has them."""
    for key in ("test", "test_fer2013_labels"):
        block = card.metrics.get(key)
        if block and label_family(block.get("labels", "")) == family and "int8" in block:
            return block["int8"]["accuracy"]
    return None


def target_cell(card: ModelCard) -> str:
    target = TARGETS.get(card.name)
    if target is None:
        return ""
    goal = f"{100 * target.accuracy:.0f}%"
    reached = _accuracy_on(card, target.labels)
    own_labels = label_family(card.metrics.get("test", {}).get("labels", ""))
    where = "" if own_labels == target.labels else f" on {measured_against(target.labels)}"
    if reached is None:
        return f"{goal}{where}: not measured"
    return f"{goal}{where}: {'met' if reached >= target.accuracy else 'missed'}"


def size_cell(card: ModelCard, models_dir: Path) -> str:
    size = card.architecture.get("tflite_bytes")
    if size is None and (models_dir / f"{card.name}.tflite").is_file():
        size = (models_dir / f"{card.name}.tflite").stat().st_size
    return kilobytes(size) if size is not None else MISSING


def training_cell(card: ModelCard) -> str:
    """Wall time of training (all pieces of an interrupted run), epochs, faces, and where the
    network came from (a warm start, or a subset of another model's classes, whose run this
    time then is)."""
    training = card.training
    parts = []
    if training.get("train_seconds") is not None:
        parts.append(f"{round(training['train_seconds'] / 60)} min")
    if training.get("epochs") is not None:
        parts.append(f"{training['epochs']} epochs")
    if training.get("train_faces") is not None:
        parts.append(f"{training['train_faces']:,} faces")
    text = ", ".join(parts) or MISSING
    subset = (training.get("conversion") or {}).get("label_subset_of")
    if subset:
        text += f" (the {subset['label_set']} network's run, {len(card.labels)} of its classes)"
    init_from = training.get("init_from")
    if init_from:
        source = init_from.get("model") if isinstance(init_from, dict) else init_from
        text += f" (warm start from `{source}`)"
    prior = training.get("prior_correction")
    if prior:
        text += f", prior correction tau {prior['tau']:g} in the head"
    return text


def model_row(card: ModelCard, bench: dict, models_dir: Path) -> list[str]:
    val = card.metrics.get("test", {})
    float_m, int8_m = val.get("float", {}), val.get("int8", {})
    arch = card.architecture

    def value(source: dict, key: str, fmt: Callable[[Any], str]) -> str:
        return fmt(source[key]) if source.get(key) is not None else MISSING

    against = measured_against(val["labels"]) if "labels" in val else MISSING
    if int8_m.get("n") is not None:
        against += f", n={int8_m['n']}"
    return [
        f"`{card.name}`",
        f"{len(card.labels)}: {', '.join(card.labels)}",
        against,
        target_cell(card),
        size_cell(card, models_dir),
        value(arch, "parameters", parameters),
        value(arch, "macs", mega_macs),
        value(float_m, "accuracy", percent),
        value(int8_m, "accuracy", percent),
        value(val, "int8_float_top1_agreement", percent),
        value(int8_m, "macro_f1", f1),
        latency_cell(card, bench),
        training_cell(card),
    ]


def reference_row(name: str, classes: str, size: str, params: str, accuracy: str) -> list[str]:
    return [f"*published: {name}*", classes, "FER2013 labels", "", size, params, "",
            f"{accuracy} (their protocol)", "", "", "", "", ""]


def recall_row(card: ModelCard) -> list[str]:
    """Per-class int8 recall in vocabulary order; blank where the model has no such class."""
    val = card.metrics.get("test", {})
    recall = val.get("int8", {}).get("per_class_recall", {})
    against = measured_against(val["labels"]) if "labels" in val else MISSING
    return [f"`{card.name}`", against,
            *(percent(recall[label]) if label in recall else "" for label in VOCABULARY)]


def fer2013_labels_line(card: ModelCard) -> str | None:
    """For a model scored against FER+: the same model against FER2013's original labels."""
    block = card.metrics.get("test_fer2013_labels")
    if not block or "int8" not in block:
        return None
    int8_m, float_m = block["int8"], block.get("float", {})
    float_text = f"{percent(float_m['accuracy'])} float / " if "accuracy" in float_m else ""
    agreement = block.get("int8_float_top1_agreement")
    return (f"`{card.name}` against FER2013's original labels (same {len(card.labels)} classes, "
            f"n={int8_m['n']}): {float_text}{percent(int8_m['accuracy'])} int8, macro-F1 "
            f"{f1(int8_m['macro_f1'])} (int8)"
            + (f", int8 = float top-1 {percent(agreement)}." if agreement is not None else "."))


def _wrap(text: str) -> str:
    return textwrap.fill(text, WRAP, break_long_words=False, break_on_hyphens=False)


def _table(header: list[str] | tuple[str, ...], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _bench_source(bench_path: Path, models_dir: Path) -> str:
    """The benchmark file as the README links it: relative to the repository (the models
    folder's parent), so the text does not depend on where the command ran."""
    try:
        return Path(bench_path).resolve().relative_to(Path(models_dir).resolve().parent).as_posix()
    except ValueError:
        return Path(bench_path).name


def latency_caption(bench: dict, bench_source: str) -> str:
    machine = bench.get("machine", {})
    runtimes = sorted({r["runtime"] for m in bench.get("models", []) for r in m.get("rows", [])
                       if r.get("variant") == LATENCY_VARIANT and "runtime" in r})
    simd = machine.get("int8_simd")
    features = f", int8 SIMD: {' '.join(simd)}" if simd else ""
    where = (f"{machine.get('cpu', 'an unnamed CPU')} ({machine.get('arch', '?')}, "
             f"{machine.get('cores', '?')} cores{features})")
    runtime = f" with {', '.join(runtimes)}" if runtimes else ""
    peer = bench.get("peer") or {}
    peer_text = (f" In the same run the `fer` package's model ({peer['model']}) took "
                 f"{peer['p50_ms']:.2f} ms per face." if "p50_ms" in peer and "model" in peer else "")
    return (f"Latency per face: p50 of the int8 model, {LATENCY_THREADS} interpreter thread, one face "
            f"per invoke, measured {str(bench.get('date', '?'))[:10]} on {where}{runtime} by "
            f"`emotion-device bench` ([{bench_source}]({bench_source})).{peer_text}")


def results_table(models_dir: Path, bench_path: Path) -> str:
    """The README's results section, in Markdown, from every card in `models_dir` and the
    benchmark at `bench_path`. No trailing newline."""
    models_dir = Path(models_dir)
    cards = load_cards(models_dir)
    bench_path = newest_bench(bench_path)
    bench = load_bench(bench_path)
    rows = [model_row(card, bench, models_dir) for card in cards]
    rows += [reference_row(*reference) for reference in REFERENCES]
    lines = _table(COLUMNS, rows)
    lines += [
        "",
        _wrap(latency_caption(bench, _bench_source(bench_path, models_dir))),
        "",
        _wrap("Accuracy: FER2013 PublicTest, against the labels in \"measured against\" (FER+ majority: the "
        "ten-annotator vote, on the rows whose majority is one of the model's classes). Target: the "
        "accuracy work's goal for the int8 model. Training: wall time of the whole run (an interrupted "
        "run adds up its pieces), epochs, training faces. The *published* rows "
        "are other papers' 7-class FER2013 figures, quoted for scale and not measured here; they are "
        "not directly comparable with a model of other classes or labels."),
        "",
        "Per-class recall (int8, PublicTest; blank: the model has no such class):",
        "",
        *_table(("model", "measured against", *VOCABULARY), [recall_row(card) for card in cards]),
    ]
    extra = [_wrap(line) for line in (fer2013_labels_line(card) for card in cards) if line]
    if extra:
        lines += ["", *extra]
    return "\n".join(lines)


# --- the README


def _marker_positions(text: str, source: str) -> tuple[int, int]:
    """Where the generated block starts and ends in `text` (between the two markers)."""
    counts = {marker: text.count(marker) for marker in (MARK_START, MARK_END)}
    problems = [f"{marker!r} occurs {count} times" for marker, count in counts.items() if count != 1]
    if problems:
        raise ReadmeMarkersError(
            f"{source}: {'; '.join(problems)}. Put exactly one {MARK_START} and one {MARK_END} "
            f"around the place for the results table.")
    start, end = text.index(MARK_START) + len(MARK_START), text.index(MARK_END)
    if end < start:
        raise ReadmeMarkersError(f"{source}: {MARK_END} comes before {MARK_START}")
    return start, end


def readme_section(text: str, source: str = "README") -> str:
    """The generated block currently in a README's text, without its surrounding newlines."""
    start, end = _marker_positions(text, source)
    return text[start:end].strip("\n")


def replace_section(text: str, block: str, source: str = "README") -> str:
    """`text` with the block between the markers replaced by `block`; the rest is unchanged."""
    start, end = _marker_positions(text, source)
    return f"{text[:start]}\n{block.strip(chr(10))}\n{text[end:]}"


def update_readme(readme: Path, block: str) -> bool:
    """Write `block` between the README's markers; True when the file changed."""
    readme = Path(readme)
    text = readme.read_text()
    updated = replace_section(text, block, str(readme))
    if updated == text:
        log.info("%s: the results table is already up to date", readme)
        return False
    readme.write_text(updated)
    log.info("%s: results table updated", readme)
    return True


EXAMPLES = f"""\
examples:
  python -m emotion_convert.results_table --models models \\
      --bench benchmarks/results/x86-64-amd-epyc.json       # one machine's benchmark
  python -m emotion_convert.results_table --models models --readme README.md \\
      --bench benchmarks/results      # the latest saved benchmark: what `make results-table` runs

With --readme, the text between {MARK_START} and {MARK_END} is replaced and nothing else.
Exit status 2 if the markers are missing or a card or the benchmark cannot be read.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emotion_convert.results_table",
        description="Print the README's model results table, generated from the model cards and a "
                    "saved benchmark, or write it into the README.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=Path("models"),
                        help="folder with the model cards, <name>.json (default: models)")
    parser.add_argument("--bench", type=Path, required=True,
                        help="a benchmark saved by `emotion-device bench --save`, or a folder of "
                             "them: the one with the latest recorded date")
    parser.add_argument("--readme", type=Path,
                        help="write the table between the markers in this file instead of printing it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        block = results_table(args.models, args.bench)
        if args.readme is None:
            print(block)
        else:
            changed = update_readme(args.readme, block)
            print(f"{args.readme}: {'updated' if changed else 'already up to date'}")
    except (OSError, ValueError) as exc:  # ReadmeMarkersError and ModelCardError are ValueErrors
        print(f"results_table: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
