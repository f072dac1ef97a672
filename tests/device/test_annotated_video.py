"""`run --annotate-video`: opt-in, says so, every frame in order, boxes only on confirmed faces."""

import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.conftest import MODELS
from tests.device.clips import write_clip

RUN = [sys.executable, "-m", "emotion_device.cli", "run", "--model", str(MODELS / "emotion5.tflite"),
       "--log", "/dev/null"]


def _frames(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


def test_an_mp4_of_every_frame_with_boxes_only_on_confirmed_faces(tmp_path, face_photos, faceless_photo):
    clip = write_clip(tmp_path / "clip.avi", [(face_photos[0], 9), (faceless_photo, 6)])
    out = tmp_path / "annotated.mp4"
    result = subprocess.run([*RUN, "--source", str(clip), "--annotate-video", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--annotate-video: every frame, with the faces in it, is written to" in result.stderr
    written, original = _frames(out), _frames(clip)
    assert len(written) == len(original) == 15
    # pixels that changed a lot: a drawn box and its label, not the codecs' noise
    drawn = [int((np.abs(w.astype(int) - o.astype(int)).max(axis=2) > 100).sum())
             for w, o in zip(written, original)]
    assert min(drawn[:9]) > 500 and max(drawn[9:]) < 50, drawn  # boxes on the person, none on the cup


def test_a_gif_of_the_demo_photos(tmp_path, face_photos):
    pytest.importorskip("PIL", reason="GIFs need Pillow (the plots extra)")
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, photo in enumerate(face_photos):
        (folder / f"{i}{photo.suffix}").write_bytes(photo.read_bytes())
    out = tmp_path / "demo.gif"
    result = subprocess.run([*RUN, "--source", str(folder), "--annotate-video", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    from PIL import Image

    with Image.open(out) as gif:
        assert gif.n_frames == len(face_photos) and gif.size == (480, 360)


def test_an_unknown_video_format_is_one_clear_line(tmp_path, face_photos):
    out = tmp_path / "x.mkv"
    result = subprocess.run([*RUN, "--source", str(face_photos[0]), "--annotate-video", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "use a .mp4, .avi or .gif file name" in result.stderr
