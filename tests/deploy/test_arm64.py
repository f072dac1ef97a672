"""The device code in emulated Raspberry Pi OS-like arm64 userlands. It must find the same faces
and labels in the demo photos as this machine's venv does.

- bookworm: Debian's arm64 Python 3.11 and numpy 1.24, opencv-python-headless and
  tflite-runtime aarch64 wheels, under this machine's qemu-aarch64-static 7.2 (ai-edge-litert
  crashes under qemu 7.2, so the device falls back to tflite-runtime);
- trixie: Debian's arm64 Python 3.13 and numpy 2.2, opencv-python-headless and ai-edge-litert
  aarch64 wheels, under Debian trixie's qemu-aarch64 10.0 (which runs ai-edge-litert).

Each userland is downloaded once into .cache/arm64 or .cache/arm64-trixie
(tests/deploy/arm64_userland.sh, recipe in ../shared/ARM64.md). Run with `make test-arm64`
(bookworm) and `make test-arm64-trixie`. Only behaviour is asserted, never speed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from emotion_device.models import DEFAULT_MODEL
from tests.conftest import MODELS, REPO
from tests.deploy.conftest import require_tool, run

CACHES = Path(os.environ.get("EMOTION_ARM64_CACHES", REPO / ".cache"))
USERLAND_SH = Path(__file__).parent / "arm64_userland.sh"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass(frozen=True)
class Userland:
    suite: str
    cache: Path
    python: str
    numpy: str  # the version's prefix
    runtime: str  # the TFLite runtime the device must pick there


USERLANDS = {
    "bookworm": Userland("bookworm", CACHES / "arm64", "3.11", "1.24.", "tflite-runtime"),
    "trixie": Userland("trixie", CACHES / "arm64-trixie", "3.13", "2.2.", "ai-edge-litert"),
}


class Emulated:
    """Runs `python3.X -m emotion_device.cli ...` under qemu-aarch64."""

    def __init__(self, userland: Userland, qemu: str | Path, site: Path) -> None:
        self.userland = userland
        rootfs = userland.cache / "rootfs"
        self.command = [qemu, "-cpu", "cortex-a72", "-L", rootfs, rootfs / f"usr/bin/python{userland.python}"]
        self.env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{userland.cache / 'site'}",
                    "EMOTION_EDGE_MODELS": str(MODELS)}

    def cli(self, *args: str | Path):
        return run([*self.command, "-m", "emotion_device.cli", *args], env=self.env)


def x86_cli(*args: str | Path):
    return run([sys.executable, "-m", "emotion_device.cli", *args],
               env={**os.environ, "EMOTION_EDGE_MODELS": str(MODELS)})


@pytest.fixture(scope="module", params=sorted(USERLANDS))
def emulated(request, tmp_path_factory) -> Emulated:
    userland = USERLANDS[request.param]
    for tool in ("apt-get", "dpkg-deb", "unzip"):
        require_tool(tool, "the arm64 userland is built from Debian packages")
    qemu: str | Path = userland.cache / "qemu" / "qemu-aarch64"  # trixie's, from the cache
    if userland.suite == "bookworm":
        qemu = require_tool("qemu-aarch64-static", "apt install qemu-user-static")
    result = run([USERLAND_SH, "--suite", userland.suite, userland.cache],
                 env={**os.environ, "PIP": f"{sys.executable} -m pip"})
    assert result.returncode == 0, result.stdout + result.stderr
    # The device package and its pure-Python dependencies, as this checkout has them now.
    site = tmp_path_factory.mktemp("arm64-site")
    shutil.copytree(REPO / "device/src/emotion_device", site / "emotion_device",
                    ignore=shutil.ignore_patterns("__pycache__"))
    paho = importlib.util.find_spec("paho")
    assert paho and paho.submodule_search_locations
    shutil.copytree(next(iter(paho.submodule_search_locations)), site / "paho",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return Emulated(userland, qemu, site)


@pytest.fixture(scope="module")
def photos(demo_dir: Path) -> list[Path]:
    return sorted(p for p in demo_dir.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)


def iou(a: list[int], b: list[int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def score_tolerance(model: Path) -> float:
    """How far apart two int8 kernels may put a score for the same pixels. Arm's and x86's
    XNNPACK kernels requantize every layer with other rounding, so each platform's scores are
    their own int8 approximation of the float network's, one step apart here and there in ten
    layers. That is the same kind of error as int8 against float, which the conversion measured
    over thousands of faces: the card's largest score difference (`max_abs_score_diff`) is the
    scale. From the model's card, so a re-converted model brings its own bound."""
    card = json.loads(model.with_suffix(".json").read_text())
    return card["metrics"]["test"]["max_abs_score_diff"]


SCORE_TOLERANCE = score_tolerance(MODELS / f"{DEFAULT_MODEL}.tflite")


def top_two(face: dict) -> list[str]:
    return sorted(face["scores"], key=face["scores"].get, reverse=True)[:2]


def assert_same_faces(arm: list[dict], x86: list[dict], scores: bool = True) -> None:
    """Same number of faces; each arm64 face overlaps one x86 face, with its label (and, where
    both platforms crop exactly the same pixels, its scores within int8 rounding). A face whose
    best two scores on x86 are within twice the tolerance is a near-tie that the two kernels may
    settle either way: there the arm64 label must be one of those two."""
    assert len(arm) == len(x86)
    for face in arm:
        twin = max(x86, key=lambda other: iou(face["box"], other["box"]))
        assert iou(face["box"], twin["box"]) > 0.8, (face["box"], twin["box"])
        first, second = top_two(twin)
        if twin["scores"][first] - twin["scores"][second] <= 2 * SCORE_TOLERANCE:
            assert face["label"] in (first, second), (face, twin)
        else:
            assert face["label"] == twin["label"], (face, twin)
        if scores:
            for label, score in face["scores"].items():
                assert abs(score - twin["scores"][label]) <= SCORE_TOLERANCE, (label, face, twin)


def by_image(stdout: str) -> dict[str, list[dict]]:
    faces: dict[str, list[dict]] = {}
    for line in stdout.splitlines():
        face = json.loads(line)
        faces.setdefault(face["image"], []).append(face)
    return faces


def test_the_userland_is_the_raspberry_pi_oss(emulated: Emulated) -> None:
    code = "import platform, numpy; print(platform.machine(), platform.python_version(), numpy.__version__)"
    result = run([*emulated.command, "-c", code], env=emulated.env)
    assert result.returncode == 0, result.stderr
    machine, python, numpy = result.stdout.split()
    assert machine == "aarch64" and python.startswith(f"{emulated.userland.python}.")
    assert numpy.startswith(emulated.userland.numpy)


@pytest.mark.parametrize("detector", ["haar", "blazeface"])
def test_classify_finds_the_same_faces_and_labels_as_on_x86(emulated: Emulated, photos, detector) -> None:
    """Haar's integer pipeline crops the same pixels on both platforms, so the classifier's
    scores must agree within int8 rounding; BlazeFace (the default) is a float network whose
    boxes move by a pixel between kernels, so there the faces and labels must agree."""
    x86 = x86_cli("classify", "--detector", detector, *photos)
    assert x86.returncode == 0, x86.stderr
    arm = emulated.cli("classify", "--detector", detector, *photos)
    assert arm.returncode == 0, arm.stderr
    assert f"on {emulated.userland.runtime} " in arm.stderr
    x86_faces, arm_faces = by_image(x86.stdout), by_image(arm.stdout)
    assert x86_faces, "no face found on x86: nothing to compare"
    assert arm_faces.keys() == x86_faces.keys()
    for image, faces in x86_faces.items():
        assert_same_faces(arm_faces[image], faces, scores=detector == "haar")


def test_run_writes_the_same_json_lines_as_on_x86(emulated: Emulated, demo_dir: Path, tmp_path: Path) -> None:
    logs = {}
    for name, cli in (("x86", x86_cli), ("arm64", emulated.cli)):
        logs[name] = tmp_path / f"{name}.jsonl"
        result = cli("run", "--source", demo_dir, "--max-frames", "3", "--log", logs[name])
        assert result.returncode == 0, result.stderr
        assert "stopped (max-frames): 3 frames" in result.stderr
    records = {name: [json.loads(line) for line in log.read_text().splitlines()]
               for name, log in logs.items()}
    arm = records["arm64"]
    assert {r["type"] for r in arm} == {"face", "state", "stats", "summary"}
    assert arm[-1]["type"] == "stats" and arm[-1]["frames"] == 3
    events = {name: [r for r in recs if r["type"] == "face"] for name, recs in records.items()}
    assert events["arm64"], "no face in the first three demo photos"
    assert [e["seq"] for e in events["arm64"]] == list(range(1, len(events["arm64"]) + 1))
    assert all(e["schema"] == 2 and e["label"] in e["scores"] for e in events["arm64"])
    for frame in range(3):
        arm_faces = [e for e in events["arm64"] if e["frame"] == frame]
        x86_faces = [e for e in events["x86"] if e["frame"] == frame]
        assert {e["source"] for e in arm_faces} == {e["source"] for e in x86_faces}
        assert_same_faces(arm_faces, x86_faces, scores=False)  # the default detector: BlazeFace
