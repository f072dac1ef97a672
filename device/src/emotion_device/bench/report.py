"""Bench results as a table for people, JSON for machines, and a regression check against a saved run."""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path

from emotion_device.bench.detection import format_detection
from emotion_device.bench.model_latency import TTA_VARIANTS

# ESTIMATES, not measurements: the sustained single-thread int8 throughput (GMAC/s, low and
# high) that XNNPACK reaches on a Raspberry Pi, from public single-thread latencies of int8
# MobileNets (Pi 4: Cortex-A72 at 1.8 GHz, no dot-product instructions; Pi 5: Cortex-A76 at
# 2.4 GHz with SDOT). Small 48x48 networks sit at the low end. A measured row from a real Pi
# (`emotion-device bench --save`) replaces these.
PI_ASSUMED_GMAC_PER_S = {"raspberry-pi-4": (4.0, 8.0), "raspberry-pi-5": (12.0, 24.0)}


def pi_estimates(macs: int) -> dict:
    """Latency range per face on each Pi, from the model's MACs and the assumed throughput."""
    return {pi: {"p50_ms_estimate": f"{macs / (hi * 1e9) * 1000:.1f}-{macs / (lo * 1e9) * 1000:.1f}",
                 "assumed_gmac_per_s": [lo, hi]}
            for pi, (lo, hi) in PI_ASSUMED_GMAC_PER_S.items()}


# The CPU features that set int8 inference speed, best first per architecture. A CPU with int8
# dot products (AMX, VNNI; Arm's I8MM and SDOT) runs a wide int8 network several times faster,
# relative to a small one, than a CPU without them: one cloud "AMD EPYC" timed emotion5 at
# 0.27 ms (AVX-512 VNNI) and another at 2.0-2.4 ms (AVX2 only). So the feature is part of the
# machine.
INT8_SIMD = ("amx_int8", "avx512_vnni", "avx_vnni", "avx512f", "avx2", "i8mm", "asimddp", "asimd")


def int8_simd(cpuinfo: str) -> list[str]:
    """The int8-relevant SIMD features that /proc/cpuinfo lists (x86 `flags`, Arm `Features`)."""
    found = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    present = set(found.group(1).split()) if found else set()
    return [feature for feature in INT8_SIMD if feature in present]


def machine_info() -> dict:
    model, simd = "", []
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^(?:Model|model name)\s*:\s*(.+)$", text, re.MULTILINE)
        model = found.group(1).strip() if found else ""
        simd = int8_simd(text)
    except OSError:
        pass
    return {"arch": platform.machine(), "cpu": model or platform.processor(),
            "cores": os.cpu_count(), "int8_simd": simd, "python": platform.python_version(),
            "system": platform.platform()}


def machine_slug(info: dict) -> str:
    """The saved benchmark's file name: architecture, CPU name and its best int8 feature, so two
    CPUs that share a name but not their int8 speed keep a file each. (A benchmark saved before
    the feature was recorded has none in its name.)"""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{info['arch']} {info['cpu']}".lower()).strip("-")[:48]
    best = (info.get("int8_simd") or [None])[0]
    return f"{slug}-{best.replace('_', '-')}" if best else slug


def targets(result: dict) -> list[dict]:
    """The project's targets (issue: benchmarks), measured in this run where the run has the numbers."""
    checks = []
    emotion5 = next((m for m in result["models"] if m["model"] == "emotion5"), None)
    if emotion5:
        single = {r["variant"]: r for r in emotion5["rows"] if r["threads"] == 1 and r["batch"] == 1}
        int8, flt = single["int8"], single.get("float32")
        if result.get("peer"):
            ratio = int8["p50_ms"] / result["peer"]["p50_ms"]
            checks.append({"target": "classifier latency <= 1/4 of fer's model (1 thread, p50)",
                           "value": f"{ratio:.2f}x", "ok": ratio <= 0.25})
        if flt:
            speedup = flt["p50_ms"] / int8["p50_ms"]
            checks.append({"target": "int8 >= 2x faster than float32 (1 thread, p50)",
                           "value": f"{speedup:.2f}x", "ok": speedup >= 2.0})
    fast = [p for p in result.get("pipeline", []) if p["width"] == 640 and p["every_n"] > 1]
    if fast:
        best = max(fast, key=lambda p: p["fps"])
        checks.append({"target": "pipeline >= 100 fps at 640x480, one face (lores + every-N)",
                       "value": f"{best['fps']} fps ({best['setting']})", "ok": best["fps"] >= 100})
    duel = result.get("defaults_vs_peer")
    if duel:
        ok = duel["fps_ratio"] >= 5 and duel["defaults"]["faces_per_frame"] >= duel["peer"]["faces_per_frame"]
        checks.append({"target": "defaults >= 5x the fps of fer's pipeline on the 640x480 demo clip, "
                                 "finding at least as many faces",
                       "value": f"{duel['fps_ratio']}x ({duel['defaults']['faces_per_frame']} vs "
                                f"{duel['peer']['faces_per_frame']} faces per frame)", "ok": ok})
    res = result.get("resources", {})
    if "peak_rss_mb" in res:
        checks.append({"target": "peak RSS of `emotion-device classify` (one model) <= 100 MB",
                       "value": f"{res['peak_rss_mb']} MB",
                       "ok": res["peak_rss_mb"] <= 100})
    if "first_result_s" in res:
        checks.append({"target": "time to first result <= 1.5 s", "value": f"{res['first_result_s']} s",
                       "ok": res["first_result_s"] <= 1.5})
    return checks


def tta_cost(model: dict, variant: str) -> float | None:
    """A TTA variant's per-face p50 over plain int8's, on one thread; None when either row is
    missing (a benchmark saved before ten-crop has no row for it)."""
    single = {r["variant"]: r for r in model["rows"] if r["threads"] == 1 and r["batch"] == 1}
    if "int8" not in single or variant not in single:
        return None
    return single[variant]["p50_ms"] / single["int8"]["p50_ms"]


def format_tables(result: dict) -> str:
    out = [f"emotion-device bench on {result['machine']['cpu']} ({result['machine']['arch']}, "
           f"{result['machine']['cores']} cores), {result['date']}", ""]
    out.append(f"{'model':<10} {'variant':<15} {'thr':>3} {'batch':>5} {'p50 ms':>8} {'p95 ms':>8} "
               f"{'p99 ms':>8} {'GMAC/s':>7}  runtime")
    for model in result["models"]:
        for r in model["rows"]:
            out.append(f"{model['model']:<10} {r['variant']:<15} {r['threads']:>3} {r['batch']:>5} "
                       f"{r['p50_ms']:>8.3f} {r['p95_ms']:>8.3f} {r['p99_ms']:>8.3f} "
                       f"{r.get('gmac_per_s', ''):>7}  {r['runtime']}")
    for model in result["models"]:
        for variant in TTA_VARIANTS.values():
            ratio = tta_cost(model, variant)
            if ratio is not None:
                out.append(f"{model['model']}: {variant} costs {ratio:.2f}x the int8 latency per face "
                           "(1 thread, p50)")
    if result.get("peer"):
        p = result["peer"]
        out.append(f"{'fer (peer)':<10} {p['dtype']:<15} {1:>3} {1:>5} {p['p50_ms']:>8.3f} "
                   f"{p['p95_ms']:>8.3f} {p['p99_ms']:>8.3f} {'':>7}  {p['runtime']}")
    if result.get("pipeline"):
        out += ["", f"{'pipeline setting':<34} {'fps':>7} {'capture':>8} {'detect':>8} {'classify':>8} "
                    f"{'publish':>8}   (stage p50 ms)"]
        for p in result["pipeline"]:
            stage = {k: v.get("p50_ms", 0.0) for k, v in p["stage_ms"].items()}
            out.append(f"{p['setting']:<34} {p['fps']:>7.1f} {stage.get('capture', 0):>8.3f} "
                       f"{stage.get('detect', 0):>8.3f} {stage.get('classify', 0):>8.3f} "
                       f"{stage.get('publish', 0):>8.3f}")
    duel = result.get("defaults_vs_peer")
    if duel:
        out += ["", f"whole pipeline on the demo clip ({duel['clip']}, median of {duel['rounds']} "
                    "alternating runs)", f"{'pipeline':<48} {'fps':>7} {'faces/frame':>12}"]
        for key in ("defaults", "peer"):
            row = duel[key]
            name = ("emotion-device defaults: " if key == "defaults" else "") + row["setting"]
            out.append(f"{name:<48} {row['fps']:>7.1f} {row['faces_per_frame']:>12.3f}")
        out.append(f"defaults / fer: {duel['fps_ratio']}x the frames per second")
    if result.get("detection"):
        out += ["", format_detection(result["detection"])]
    if result.get("resources"):
        out += ["", "resources: " + ", ".join(f"{k} {v}" for k, v in result["resources"].items())]
    if result.get("estimates"):
        out += ["", "ESTIMATES from MACs and assumed Pi throughput, not measured: " + "; ".join(
            f"{k}: {v['p50_ms_estimate']} ms/face" for k, v in result["estimates"].items())]
    if result.get("targets"):
        out += ["", "targets:"]
        out += [f"  [{'PASS' if t['ok'] else 'MISS'}] {t['target']}: {t['value']}" for t in result["targets"]]
    return "\n".join(out)


def _keyed(result: dict) -> dict[str, tuple[float, bool]]:
    """Comparable numbers by key; the bool says whether higher is better."""
    keyed = {}
    for model in result.get("models", []):
        for r in model["rows"]:
            keyed[f"{model['model']} {r['variant']} threads={r['threads']} batch={r['batch']} p50_ms"] = (
                r["p50_ms"], False)
    for p in result.get("pipeline", []):
        keyed[f"pipeline {p['setting']} fps"] = (p["fps"], True)
    if result.get("defaults_vs_peer"):
        defaults = result["defaults_vs_peer"]["defaults"]
        keyed["pipeline defaults on the demo clip fps"] = (defaults["fps"], True)
    for k, v in result.get("resources", {}).items():
        keyed[f"resources {k}"] = (v, False)
    return keyed


def compare(new: dict, old: dict, tolerance: float) -> list[str]:
    """Regressions beyond `tolerance` (a fraction) of `new` against `old`."""
    regressions = []
    before = _keyed(old)
    for key, (value, higher_better) in _keyed(new).items():
        if key not in before or not before[key][0]:
            continue
        ref = before[key][0]
        change = (value - ref) / ref
        worse = -change if higher_better else change
        if worse > tolerance:
            regressions.append(f"{key}: {ref} -> {value} ({change:+.0%})")
    return regressions


def save(result: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{machine_slug(result['machine'])}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
