"""`emotion-device bench` runs end to end on the real model and photo; its numbers are not asserted
here (targets are checked by `make bench`), only that every figure is produced and compared."""

import json
import subprocess
import sys

from emotion_device.bench.model_latency import TTA_VARIANTS
from emotion_device.bench.report import (
    compare,
    format_tables,
    int8_simd,
    machine_info,
    machine_slug,
    tta_cost,
)
from tests.conftest import MODELS


def test_bench_produces_every_figure_as_json(face_photos, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "emotion_device.cli", "bench", "--models", str(MODELS / "emotion5.tflite"),
         "--photo", str(face_photos[0]), "--invokes", "20", "--frames", "10", "--threads", "1",
         "--batch", "3", "--json", "--save", str(tmp_path)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    (model,) = data["models"]
    assert model["macs"] > 0 and model["parameters"] > 0
    rows = {(r["variant"], r["threads"], r["batch"]): r for r in model["rows"]}
    assert {("int8", 1, 1), ("int8", 1, 3)} <= set(rows)
    single = rows[("int8", 1, 1)]
    assert 0 < single["p50_ms"] <= single["p95_ms"] <= single["p99_ms"] and single["n"] == 20
    assert single["runtime"].startswith("ai-edge-litert") and single["gmac_per_s"] > 0
    for mode, variant in TTA_VARIANTS.items():  # all of a face's views in one invoke
        row = rows[(variant, 1, 1)]
        assert 0 < row["p50_ms"] <= row["p95_ms"] and row["n"] == 20 and row["gmac_per_s"] > 0, mode
        assert tta_cost(model, variant) == row["p50_ms"] / single["p50_ms"]
        assert f"{variant} costs" in format_tables(data)
    assert set(TTA_VARIANTS) == {"flip", "ten-crop"}
    settings = {(p["detector"], p["width"], p["every_n"]) for p in data["pipeline"]}
    assert {("haar", 640, 1), ("haar", 1280, 5)} <= settings
    for p in data["pipeline"]:
        assert p["frames"] == 10 and p["fps"] > 0 and p["faces_per_frame"] >= 0.9
        assert {"capture", "detect", "classify", "publish"} <= set(p["stage_ms"])
    resources = data["resources"]
    assert {"import_s", "first_result_s", "peak_rss_mb", "bench_process_peak_rss_mb"} <= set(resources)
    # The device's footprint is the classify child's own, not the benchmark process's (which
    # also holds float twins and timing buffers): a real, separate measurement of each.
    assert resources["peak_rss_mb"] > 20 and resources["bench_process_peak_rss_mb"] > 20
    assert any(t["target"].startswith("peak RSS of `emotion-device classify`") for t in data["targets"])
    assert any(t["target"].startswith("pipeline") for t in data["targets"])
    low, high = map(float, data["estimates"]["raspberry-pi-4"]["p50_ms_estimate"].split("-"))
    assert 0 < low < high
    saved = list(tmp_path.glob("*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["schema"] == 1
    assert saved[0].stem == machine_slug(data["machine"]) and "int8_simd" in data["machine"]


def test_compare_flags_only_regressions_beyond_the_tolerance():
    old = {"models": [{"model": "m", "rows": [{"variant": "int8", "threads": 1, "batch": 1, "p50_ms": 1.0}]}],
           "pipeline": [{"setting": "haar", "fps": 100.0}], "resources": {"import_s": 0.5}}
    same = json.loads(json.dumps(old))
    assert compare(same, old, 0.15) == []
    worse = json.loads(json.dumps(old))
    worse["models"][0]["rows"][0]["p50_ms"] = 1.3
    worse["pipeline"][0]["fps"] = 80.0
    worse["resources"]["import_s"] = 0.55  # +10%: within tolerance
    found = compare(worse, old, 0.15)
    assert len(found) == 2
    assert any("p50_ms" in line and "+30%" in line for line in found)
    assert any("fps" in line and "-20%" in line for line in found)


def test_two_cpus_of_one_name_but_other_int8_features_save_apart():
    """Cloud CPUs share names across generations ("AMD EPYC"); their int8 speed does not."""
    zen4 = "model name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2 avx512f avx512_vnni\n"
    zen2 = "model name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2\n"
    pi5 = "Features\t: fp asimd evtstrm aes crc32 asimddp\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n"
    assert int8_simd(zen4) == ["avx512_vnni", "avx512f", "avx2"]
    assert int8_simd(zen2) == ["avx2"]
    assert int8_simd(pi5) == ["asimddp", "asimd"]
    assert int8_simd("model name: a CPU without a flags line") == []
    epyc = {"arch": "x86_64", "cpu": "AMD EPYC"}
    assert machine_slug({**epyc, "int8_simd": int8_simd(zen4)}) == "x86-64-amd-epyc-avx512-vnni"
    assert machine_slug({**epyc, "int8_simd": int8_simd(zen2)}) == "x86-64-amd-epyc-avx2"
    # A benchmark saved before the features were recorded keeps the name it was saved under.
    assert machine_slug(epyc) == "x86-64-amd-epyc"


def test_this_machine_reports_its_int8_features():
    """Read from the real /proc/cpuinfo: the x86-64 CPUs this project is tested on (any made
    since about 2015) have AVX2, and every arm64 CPU has ASIMD."""
    info = machine_info()
    baseline = {"x86_64": "avx2", "aarch64": "asimd"}[info["arch"]]
    assert baseline in info["int8_simd"]
    assert machine_slug(info).endswith("-" + info["int8_simd"][0].replace("_", "-"))
