"""Start-up costs a Pi user feels: import time and time to the first result, in fresh processes."""

from __future__ import annotations

import subprocess
import sys
import time
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


def first_result_seconds(photo: Path, model: str) -> float:
    """Wall time from starting `emotion-device classify` to its first JSON line on stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "emotion_device.cli", "classify", str(photo),
                             "--model", model], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.wait()
    if not line.startswith("{"):
        raise RuntimeError(f"classify printed no face for {photo}")
    return round(elapsed, 3)
