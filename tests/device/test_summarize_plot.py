"""The timeline PNG of `emotion-device summarize --plot`: the plots extra (matplotlib).

The lean device venv must not have matplotlib, so there the plot is refused in one line;
`make test-workstation` runs this file again in the workstation venv, which has it.
"""

import importlib.util
import subprocess

import pytest

from tests.device.test_summarize import CLI, rotated_log  # noqa: F401 - the fixture

HAS_PLOTS = importlib.util.find_spec("matplotlib") is not None


@pytest.mark.skipif(HAS_PLOTS, reason="matplotlib is installed here: the next test draws the plot")
def test_without_the_extra_the_plot_is_refused_in_one_line(rotated_log, tmp_path):  # noqa: F811
    result = subprocess.run([*CLI, str(rotated_log), "--plot", str(tmp_path / "t.png")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    expected = "emotion-device: error: --plot needs matplotlib: pip install 'emotion-device[plots]'"
    assert result.stderr.strip() == expected
    assert not (tmp_path / "t.png").exists()


@pytest.mark.skipif(not HAS_PLOTS, reason="no matplotlib in the lean device venv; test-workstation runs this")
def test_the_timeline_png_is_written(rotated_log, tmp_path):  # noqa: F811
    png = tmp_path / "timeline.png"
    result = subprocess.run([*CLI, str(rotated_log), "--plot", str(png)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    import cv2

    image = cv2.imread(str(png))
    assert image is not None and image.shape[0] >= 400 and image.shape[1] >= 800
    assert image.std() > 10  # axes, lines and areas, not a blank canvas
