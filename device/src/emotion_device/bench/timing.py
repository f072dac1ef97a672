"""Percentiles of repeated timings, the one summary every benchmark here reports."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def summarize_ms(samples_s: list[float] | np.ndarray) -> dict[str, float]:
    ms = np.asarray(samples_s, dtype=np.float64) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p95_ms": round(float(np.percentile(ms, 95)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "mean_ms": round(float(ms.mean()), 3),
            "n": int(ms.size)}


def time_calls(fn: Callable[[], object], repeats: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return summarize_ms(samples)
