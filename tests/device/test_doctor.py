import json
import subprocess
import sys

from tests.conftest import MODELS

DOCTOR = [sys.executable, "-m", "emotion_device.cli", "doctor"]


def test_doctor_passes_on_a_working_setup(group_photo):
    model = str(MODELS / "emotion5.tflite")
    result = subprocess.run([*DOCTOR, "--source", str(group_photo), "--model", model, "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {c["check"]: c for c in json.loads(result.stdout)}
    assert set(checks) == {"platform", "model", "interpreter", "source", "detector"}
    assert all(c["ok"] for c in checks.values())
    assert "sha256 matches the card" in checks["model"]["detail"]
    assert checks["interpreter"]["detail"].startswith("ai-edge-litert")
    assert "face(s) on the source's frame" in checks["detector"]["detail"]


def test_doctor_names_each_broken_part_and_fails(tmp_path):
    result = subprocess.run([*DOCTOR, "--source", str(tmp_path / "gone.mp4"), "--model", "missing"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    table = result.stdout
    assert "model        FAIL    FileNotFoundError: model 'missing' not found" in table
    assert "source       FAIL" in table and "detector     PASS" in table
