"""The timeline PNG of `emotion-device summarize --plot` (the plots extra: runs in the
workstation venv, which has matplotlib; the lean device venv must not)."""

import subprocess

import pytest

from tests.conftest import in_ci
from tests.device.test_summarize import CLI, rotated_log  # noqa: F401 - the fixture

if not in_ci():
    pytest.importorskip("matplotlib", reason="the plots extra (matplotlib) is not installed here")


def test_the_timeline_png_is_written(rotated_log, tmp_path):  # noqa: F811
    png = tmp_path / "timeline.png"
    result = subprocess.run([*CLI, str(rotated_log), "--plot", str(png)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    import cv2

    image = cv2.imread(str(png))
    assert image is not None and image.shape[0] >= 400 and image.shape[1] >= 800
    assert image.std() > 10  # axes, lines and areas, not a blank canvas
