"""One frame's way through the device: gray -> detect -> crop -> classify -> Face records."""

from __future__ import annotations

import numpy as np

from emotion_device.classifier import EmotionClassifier
from emotion_device.detectors import FaceDetector
from emotion_device.face import Face
from emotion_device.preprocess import crop_face, resize_face, to_gray, to_model_input


class FacePipeline:
    """Composes a detector and a classifier; all faces of a frame go through one invoke."""

    def __init__(self, detector: FaceDetector, classifier: EmotionClassifier) -> None:
        self.detector = detector
        self.classifier = classifier
        self.crop_spec = classifier.card.face_crop

    def process(self, image: np.ndarray) -> list[Face]:
        gray = to_gray(image)
        detections = self.detector.detect(gray)
        if not detections:
            return []
        crops = np.stack([resize_face(crop_face(gray, d.box, self.crop_spec)) for d in detections])
        scores = self.classifier.scores(to_model_input(crops))
        labels = self.classifier.labels
        faces = []
        for detection, row in zip(detections, scores):
            best = int(np.argmax(row))
            faces.append(Face(
                box=detection.box,
                scores={label: float(s) for label, s in zip(labels, row)},
                label=labels[best],
                confidence=float(row[best]),
                detector_score=detection.score,
            ))
        return faces
