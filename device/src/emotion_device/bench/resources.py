"""Start-up costs a Pi user feels: import time and time to the first result, in fresh processes."""

from __future__ import annotations

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


# `emotion-device classify` with its own peak RSS appended to stderr at exit. VmHWM is the
# high-water mark of this process's memory map only: getrusage's ru_maxrss (self or child)
# would also carry the benchmark process's size, which exec inherits on Linux.
CLASSIFY_WITH_PEAK = (
    "import atexit, sys\n"
    "def peak():\n"
    "    try:\n"
    "        hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
    "    except OSError:\n"
    "        return\n"
    "    sys.stderr.write('\\n' + ''.join(hwm))\n"
    "atexit.register(peak)\n"
    "from emotion_device.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@dataclass(frozen=True)
class FirstResult:
    """One fresh `emotion-device classify` process: what a Pi user waits for and what it holds."""
    seconds: float  # start to the first JSON line on stdout
    peak_rss_mb: float | None  # its own peak resident memory (one model, the detector); None off Linux


def first_result(photo: Path, model: str) -> FirstResult:
    """Run `emotion-device classify` on one photo. Its peak RSS is the device's footprint; the
    benchmark process's own is larger, because it holds every model and its float twin."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CLASSIFY_WITH_PEAK, "classify", str(photo),
                             "--model", model], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    _, stderr = proc.communicate()
    if not line.startswith("{"):
        raise RuntimeError(f"classify printed no face for {photo}")
    peaks = [row.split()[1] for row in stderr.splitlines() if row.startswith("VmHWM:")]
    return FirstResult(round(elapsed, 3), round(int(peaks[-1]) / 1024, 1) if peaks else None)
