"""The device venv is what a Pi installs: it must work with no TensorFlow or workstation libraries."""

import importlib.util
import subprocess
import sys


def test_tensorflow_is_not_installed():
    assert importlib.util.find_spec("tensorflow") is None, "the device venv must not contain TensorFlow"
    for name in ("keras", "sklearn", "matplotlib"):
        assert importlib.util.find_spec(name) is None, f"{name} leaked into the device venv"


def test_classifying_imports_no_workstation_library(bundled_model, face_photos):
    code = (
        "import sys\n"
        "from emotion_device.cli import main\n"
        f"assert main(['classify', {str(face_photos[0])!r}, '--model', {str(bundled_model)!r}]) == 0\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'tensorflow', 'keras', 'sklearn', 'matplotlib', 'picamera2'})\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert '"label"' in result.stdout
