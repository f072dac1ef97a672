"""The README's results table is generated from the model cards and the saved benchmark.

These tests make a retrained model or a new benchmark that is not reflected in the README fail
CI, and pin down that the table never shows a number no measurement wrote.
"""

import json
import shutil
from pathlib import Path

import pytest

from emotion_convert import results_table as rt
from emotion_device.labels import LABEL_SETS, VOCABULARY
from emotion_device.model_card import ModelCard
from tests.conftest import MODELS, REPO

BENCH = REPO / "benchmarks" / "results"  # what `make results-table` reads: the latest saved run
README = REPO / "README.md"


def _rows(markdown: str, first_header: str) -> dict[str, dict[str, str]]:
    """Each row of the Markdown table whose header starts with `first_header`, by its first cell."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


def _card_file(tmp_models: Path, name: str, labels: tuple[str, ...], recall: float = 0.5) -> None:
    """A card for a model the benchmark never timed, derived from the bundled one."""
    data = json.loads((MODELS / "emotion5.json").read_text())
    data["name"], data["labels"] = name, list(labels)
    data["metrics"] = {"test": {
        "split": "FER2013 PublicTest", "labels": "fer2013",
        "float": {"n": 100, "accuracy": 0.7, "macro_f1": 0.6,
                  "per_class_recall": dict.fromkeys(labels, recall)},
        "int8": {"n": 100, "accuracy": 0.74, "macro_f1": 0.61,
                 "per_class_recall": dict.fromkeys(labels, recall)},
        "int8_float_top1_agreement": 0.99,
    }}
    (tmp_models / f"{name}.json").write_text(json.dumps(data))


def test_readme_shows_exactly_the_table_generated_from_the_committed_cards_and_benchmark():
    generated = rt.results_table(MODELS, BENCH)
    in_readme = rt.readme_section(README.read_text(), "README.md")
    assert in_readme == generated, (
        "README.md's results table differs from models/*.json and "
        f"{rt.newest_bench(BENCH).relative_to(REPO)}: run make results-table")


def test_the_emotion5_row_shows_its_card_numbers():
    card = ModelCard.load(MODELS / "emotion5.json")
    val = card.metrics["test"]
    row = _rows(rt.results_table(MODELS, BENCH), "model")["`emotion5`"]
    assert row["PublicTest accuracy, float"] == f"{100 * val['float']['accuracy']:.1f}%"
    assert row["int8"] == f"{100 * val['int8']['accuracy']:.1f}%"
    assert row["int8 = float top-1"] == f"{100 * val['int8_float_top1_agreement']:.1f}%"
    assert row["macro-F1 (int8)"] == f"{val['int8']['macro_f1']:.3f}"
    assert row["size"] == f"{round(card.architecture['tflite_bytes'] / 1024)} KB"
    assert row["parameters"] == rt.parameters(card.architecture["parameters"])
    assert rt.parameters(641_501) == "642k" and rt.parameters(3_171_621) == "3.2M"
    assert row["MACs (M)"] == f"{card.architecture['macs'] / 1e6:.1f}"
    assert row["measured against"] == f"FER+ majority, n={val['int8']['n']}"
    assert row["training"].startswith(f"{round(card.training['train_seconds'] / 60)} min, "
                                      f"{card.training['epochs']} epochs")
    timed_models = json.loads(rt.newest_bench(BENCH).read_text())["models"]
    timed = next(m for m in timed_models if m["model"] == "emotion5")
    if timed["parameters"] == card.architecture["parameters"]:
        p50 = next(r["p50_ms"] for r in timed["rows"]
                   if r["variant"] == "int8" and r["threads"] == 1 and r["batch"] == 1)
        assert row["latency per face (int8, 1 thread)"] == f"{p50:.2f} ms"
    else:  # the model was retrained after the saved benchmark: no stale number is quoted
        assert row["latency per face (int8, 1 thread)"].startswith(rt.NOT_BENCHMARKED)

    recall = _rows(rt.results_table(MODELS, BENCH), "model | measured against | angry")["`emotion5`"]
    for label in VOCABULARY:
        expected = val["int8"]["per_class_recall"].get(label)
        assert recall[label] == ("" if expected is None else f"{100 * expected:.1f}%")


def test_a_model_without_a_bench_row_is_not_benchmarked_and_blank_where_it_lacks_a_class(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(MODELS / "emotion5.json", models)
    _card_file(models, "fer7", LABEL_SETS["fer7"])
    bench = json.loads(rt.newest_bench(BENCH).read_text())
    bench["models"] = [entry for entry in bench["models"] if entry["model"] != "fer7"]
    emotion5 = next(entry for entry in bench["models"] if entry["model"] == "emotion5")
    card = json.loads((models / "emotion5.json").read_text())["architecture"]
    without_fer7 = tmp_path / "bench.json"
    # the saved benchmark's emotion5 row, as if it had timed the network this card describes
    without_fer7.write_text(json.dumps({**bench, "models": [
        {**emotion5, "parameters": card["parameters"], "macs": card["macs"]}]}))
    rows = _rows(rt.results_table(models, without_fer7), "model")
    assert rows["`fer7`"]["latency per face (int8, 1 thread)"] == rt.NOT_BENCHMARKED
    assert rows["`emotion5`"]["latency per face (int8, 1 thread)"].endswith(" ms")

    # a benchmark of another network of the same name is never quoted for this one
    other_network = tmp_path / "other-network.json"
    other = {**emotion5, "parameters": card["parameters"] + 1}
    other_network.write_text(json.dumps({**bench, "models": [other]}))
    rows = _rows(rt.results_table(models, other_network), "model")
    assert rows["`emotion5`"]["latency per face (int8, 1 thread)"] == \
        f"{rt.NOT_BENCHMARKED} (the benchmark timed a different emotion5)"
    table = rt.results_table(models, without_fer7)
    rows = _rows(table, "model")
    assert rows["`fer7`"]["measured against"] == "FER2013 labels, n=100"
    assert rows["`fer7`"]["target (int8)"] == "70%: met"
    recall = _rows(table, "model | measured against | angry")["`fer7`"]
    assert recall["contempt"] == ""
    assert recall["disgust"] == "50.0%"

    empty_bench = tmp_path / "empty-bench.json"
    empty_bench.write_text(json.dumps({"machine": {"cpu": "x"}, "models": []}))
    rows = _rows(rt.results_table(models, empty_bench), "model")
    assert {row["latency per face (int8, 1 thread)"] for row in rows.values() if "`" in row["model"]} \
        == {rt.NOT_BENCHMARKED}


def test_a_warm_started_model_says_where_it_started_and_a_subset_whose_run_it_is():
    rows = _rows(rt.results_table(MODELS, BENCH), "model")
    for name in ("emotion5", "fer7", "ferplus8"):
        card = ModelCard.load(MODELS / f"{name}.json")
        init_from = card.training.get("init_from")
        subset = card.training["conversion"].get("label_subset_of")
        cell = rows[f"`{name}`"]["training"]
        if init_from:
            assert f"(warm start from `{init_from['model']}`)" in cell
        else:
            assert "warm start" not in cell
        if subset:
            assert f"(the {subset['label_set']} network's run, {len(card.labels)} of its classes)" in cell
        else:
            assert "network's run" not in cell
    assert "warm start from `runs/ferplus8/model.keras`" in rows["`fer7`"]["training"]


def test_a_model_with_a_prior_correction_says_so_in_its_training_cell():
    rows = _rows(rt.results_table(MODELS, BENCH), "model")
    for name in ("emotion5", "fer7", "ferplus8"):
        prior = ModelCard.load(MODELS / f"{name}.json").training.get("prior_correction")
        cell = rows[f"`{name}`"]["training"]
        assert (f"prior correction tau {prior['tau']:g} in the head" in cell) if prior \
            else ("prior correction" not in cell)
    assert "prior correction tau 0.25" in rows["`ferplus8`"]["training"]


def test_a_bench_row_of_a_different_network_is_not_quoted(tmp_path):
    bench = json.loads(rt.newest_bench(BENCH).read_text())
    bench["models"][0]["macs"] += 1
    stale = tmp_path / "bench.json"
    stale.write_text(json.dumps(bench))
    row = _rows(rt.results_table(MODELS, stale), "model")["`emotion5`"]
    assert row["latency per face (int8, 1 thread)"].startswith(rt.NOT_BENCHMARKED)


def test_the_readme_update_replaces_only_the_marked_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n{rt.MARK_START}\nold numbers\n{rt.MARK_END}\nafter\n")
    assert rt.main(["--models", str(MODELS), "--bench", str(BENCH), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith(f"# title\n\nbefore\n{rt.MARK_START}\n| model |")
    assert text.endswith(f"\n{rt.MARK_END}\nafter\n")
    assert "old numbers" not in text
    assert rt.update_readme(readme, rt.results_table(MODELS, BENCH)) is False  # idempotent


def test_missing_markers_are_a_clear_error(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{rt.MARK_START}\nno end marker\n")
    with pytest.raises(rt.ReadmeMarkersError, match="results-table:end"):
        rt.update_readme(readme, "table")
    assert rt.main(["--models", str(MODELS), "--bench", str(BENCH), "--readme", str(readme)]) == 2
    assert "results-table:end" in capsys.readouterr().err
    assert readme.read_text() == f"# title\n\n{rt.MARK_START}\nno end marker\n"


def test_a_folder_of_benchmarks_resolves_to_the_latest_recorded_date_not_the_file_name(tmp_path):
    bench = json.loads(rt.newest_bench(BENCH).read_text())
    for name, date in (("z-older-machine.json", "2026-01-01T00:00:00+00:00"),
                       ("a-newer-machine.json", "2026-06-01T00:00:00+00:00")):
        (tmp_path / name).write_text(json.dumps({**bench, "date": date}))
    (tmp_path / "soak.json").write_text(json.dumps({"samples": []}))  # not a model benchmark
    (tmp_path / "broken.json").write_text("{")
    assert rt.newest_bench(tmp_path) == tmp_path / "a-newer-machine.json"
    assert rt.newest_bench(tmp_path / "z-older-machine.json") == tmp_path / "z-older-machine.json"
    assert "a-newer-machine.json" in rt.results_table(MODELS, tmp_path)


def test_a_folder_without_a_model_benchmark_is_one_clear_error(tmp_path):
    (tmp_path / "soak.json").write_text(json.dumps({"samples": []}))
    with pytest.raises(FileNotFoundError, match="no saved benchmark"):
        rt.newest_bench(tmp_path)


def test_the_caption_quotes_the_peer_model_timed_in_the_same_run():
    bench = json.loads(rt.newest_bench(BENCH).read_text())
    caption = " ".join(rt.results_table(MODELS, BENCH).split())
    assert f"took {bench['peer']['p50_ms']:.2f} ms per face" in caption
    assert "fer" not in rt.latency_caption({**bench, "peer": {}}, "x.json").split("bench`")[-1]
