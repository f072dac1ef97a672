"""Start-up costs a Pi user feels: import time and time to the first result, in fresh processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

IMPORT_PROBE = (
    "import time; t = time.perf_counter(); "
    "import emotion_device.cli, emotion_device.assemble; "
    "print(time.perf_counter() - t)"
)


def import_seconds(repeats: int = 3) -> float:
    """Best of a few cold-ish imports of everything `emotion-device run` loads."""
    runs = [float(subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(repeats)]
    return round(min(runs), 3)


@dataclass(frozen=True)
class FirstResult:
    """One fresh `emotion-device classify` process: what a Pi user waits for and what it holds."""
    seconds: float  # start to the first JSON line on stdout
    peak_rss_mb: float  # the process's own peak resident memory: one model and the detector


def first_result(photo: Path, model: str) -> FirstResult:
    """Run `emotion-device classify` on one photo. Its peak RSS is the device's footprint; the
    benchmark process's own is larger, because it holds every model and its float twin."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "emotion_device.cli", "classify", str(photo),
                             "--model", model], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # rusage of this child alone (Linux: ru_maxrss in KiB)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    if not line.startswith("{"):
        raise RuntimeError(f"classify printed no face for {photo}")
    return FirstResult(round(elapsed, 3), round(usage.ru_maxrss / 1024, 1))
