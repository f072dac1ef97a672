"""Scores for face crops from an int8 (or float) TFLite model described by its card."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from emotion_device.model_card import ModelCard, ModelCardError, load_verified_card
from emotion_device.runtime import RuntimeInfo, make_interpreter
from emotion_device.tta import check_mode, tta_views

log = logging.getLogger(__name__)


class EmotionClassifier:
    """Wraps one interpreter; `scores(batch)` takes float32 [N,48,48,1] raw pixels 0..255.

    Quantization uses the tensors' own scale and zero point, so the same code runs int8 and
    float models. Several faces are classified in one invoke by resizing the batch dimension,
    which LiteRT supports for these models; the resize happens only when N changes.

    `tta` (off by default) averages each face's scores over test-time views of it
    (`emotion_device.tta`): "flip" adds its left-right mirror image, "ten-crop" scores the
    four corner crops and the centre crop and their mirror images. All views of all faces go
    through one invoke, so the classifier time per face grows with the view count (2 or 10);
    face detection costs the same.
    """

    def __init__(self, model_path: Path, num_threads: int = 1, runtime: str | None = None,
                 verify: bool = True, tta: str = "off") -> None:
        self.model_path = Path(model_path)
        self.tta = check_mode(tta)
        self.card: ModelCard = load_verified_card(self.model_path) if verify else ModelCard.load(
            self.model_path.with_suffix(".json"))
        self.interpreter, self.runtime = make_interpreter(self.model_path, num_threads, runtime)
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        expected = (self.card.input.height, self.card.input.width, self.card.input.channels)
        if tuple(self._input["shape"][1:]) != expected:
            raise ModelCardError(
                f"{self.model_path}: input shape {tuple(self._input['shape'])} does not match "
                f"the card's {expected}")
        if self._output["shape"][-1] != len(self.labels):
            raise ModelCardError(
                f"{self.model_path}: {self._output['shape'][-1]} outputs but the card lists "
                f"{len(self.labels)} labels")
        self._batch = int(self._input["shape"][0])

    @property
    def labels(self) -> list[str]:
        return self.card.labels

    @property
    def runtime_info(self) -> RuntimeInfo:
        return self.runtime

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        dtype = self._input["dtype"]
        if dtype == np.float32:
            return x.astype(np.float32)
        scale, zero_point = self._input["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)

    def _dequantize(self, y: np.ndarray) -> np.ndarray:
        if self._output["dtype"] == np.float32:
            return y.astype(np.float32)
        scale, zero_point = self._output["quantization"]
        return (y.astype(np.float32) - zero_point) * scale

    def _resize(self, n: int) -> None:
        if n != self._batch:
            self.interpreter.resize_tensor_input(self._input["index"], [n, *self._input["shape"][1:]])
            self.interpreter.allocate_tensors()
            self._input = self.interpreter.get_input_details()[0]
            self._output = self.interpreter.get_output_details()[0]
            self._batch = n

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        self._resize(len(batch))
        self.interpreter.set_tensor(self._input["index"], self._quantize(batch))
        self.interpreter.invoke()
        return self._dequantize(self.interpreter.get_tensor(self._output["index"]))

    def scores(self, faces: np.ndarray) -> np.ndarray:
        """float32 [N,48,48,1] -> float32 [N,C] class scores in card order.

        With `tta`, the mean of the scores of each face's views.
        """
        faces = np.asarray(faces, dtype=np.float32)
        if faces.ndim == 3:
            faces = faces[None]
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        if self.tta == "off":
            return self._invoke(faces)
        views = tta_views(faces[..., 0], self.tta)
        scores = self._invoke(np.concatenate(views)[..., None])
        return scores.reshape(len(views), len(faces), -1).mean(axis=0)
