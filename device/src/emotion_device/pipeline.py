"""One frame's way through the device: detect -> crop -> classify, as small reusable steps."""

from __future__ import annotations

import numpy as np

from emotion_device.classifier import EmotionClassifier
from emotion_device.detectors import FaceDetector
from emotion_device.face import Box, Detection, Face
from emotion_device.preprocess import face_crop_48, to_gray, to_model_input


class FacePipeline:
    """Composes a detector and a classifier; all faces of a frame go through one invoke."""

    def __init__(self, detector: FaceDetector, classifier: EmotionClassifier) -> None:
        self.detector = detector
        self.classifier = classifier
        self.crop_spec = classifier.card.face_crop

    @property
    def labels(self) -> list[str]:
        return self.classifier.labels

    def detect(self, image: np.ndarray, gray: np.ndarray | None = None,
               gray_scale: float = 1.0) -> list[Detection]:
        """Faces in `image` coordinates; detection runs on `gray` when the source provides one."""
        found = self.detector.detect(to_gray(image) if gray is None else gray)
        if gray_scale == 1.0:
            return found
        return [Detection(d.box.scaled(gray_scale), d.score) for d in found]

    def classify(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """Scores [N,C] for the faces at `boxes`, cropped from the full-resolution image."""
        return self.classify_crops([(image, box) for box in boxes])

    def classify_crops(self, faces: list[tuple[np.ndarray, Box]]) -> np.ndarray:
        """Scores [N,C] for faces from one or several frames, (image, box) each, in one invoke."""
        if not faces:
            return np.zeros((0, len(self.labels)), np.float32)
        crops = np.stack([face_crop_48(image, box, self.crop_spec) for image, box in faces])
        return self.classifier.scores(to_model_input(crops))

    def process(self, image: np.ndarray) -> list[Face]:
        """Detect and classify every face of a single image (no tracking)."""
        detections = self.detect(image)
        scores = self.classify(image, [d.box for d in detections])
        return [face_from_scores(d.box, row, self.labels, d.score) for d, row in zip(detections, scores)]


def face_from_scores(box: Box, scores: np.ndarray, labels: list[str],
                     detector_score: float | None = None) -> Face:
    best = int(np.argmax(scores))
    return Face(box=box, scores={label: float(s) for label, s in zip(labels, scores)},
                label=labels[best], confidence=float(scores[best]), detector_score=detector_score)
