"""Faces over time: tracker identities, per-face smoothing, publish pacing and the room's state."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from emotion_device.face import Box, Detection, Face
from emotion_device.pipeline import face_from_scores
from emotion_device.smoothing import LabelSmoother, SmoothingOptions
from emotion_device.tracking import IouTracker, TrackerOptions


@dataclass
class RoomState:
    """What the retained state topic says: who is in view and the dominant expression."""

    faces: int
    dominant: str | None
    labels: dict[int, str]  # face_id -> smoothed label

    def to_dict(self) -> dict:
        return {"faces": self.faces, "dominant": self.dominant,
                "face_labels": {str(k): v for k, v in sorted(self.labels.items())}}


class FaceTracks:
    def __init__(self, labels: list[str], tracker: TrackerOptions | None = None,
                 smoothing: SmoothingOptions | None = None, publish_interval: float = 1.0) -> None:
        self.labels = labels
        self.tracker = IouTracker(tracker)
        self.smoothing = smoothing or SmoothingOptions()
        self.publish_interval = publish_interval
        self._smoothers: dict[int, LabelSmoother] = {}
        self._last_published: dict[int, float] = {}
        self._scores: dict[int, float | None] = {}

    def reset(self) -> None:
        self.tracker = IouTracker(self.tracker.options)
        self._forget_gone()

    def locate(self, frame: int, detections: list[Detection] | None) -> list[tuple[int, Box]]:
        """(face_id, box) for this frame: matched detections, or predicted boxes when the
        detector did not run on this frame."""
        if detections is None:
            self.tracker.expire(frame)
            located = self.tracker.follow(frame)
        else:
            ids = self.tracker.update([d.box for d in detections], frame)
            self._scores = {fid: d.score for fid, d in zip(ids, detections)}
            located = list(zip(ids, (d.box for d in detections)))
        self._forget_gone()
        return located

    def _forget_gone(self) -> None:
        for fid in set(self._smoothers) - set(self.tracker.tracks):
            del self._smoothers[fid]
            self._last_published.pop(fid, None)

    def observe(self, located: list[tuple[int, Box]], scores: np.ndarray) -> list[Face]:
        faces = []
        for (fid, box), row in zip(located, scores):
            smoother = self._smoothers.setdefault(fid, LabelSmoother(self.smoothing))
            smoothed = smoother.update(row)
            assert smoother.scores is not None  # set by update()
            face = face_from_scores(box, row, self.labels, self._scores.get(fid))
            face.face_id = fid
            face.smoothed_label = self.labels[smoothed]
            face.smoothed_scores = {label: float(s) for label, s in zip(self.labels, smoother.scores)}
            faces.append(face)
        return faces

    def due(self, face: Face, now: float) -> bool:
        """True at most once per publish interval per face, so MQTT is not flooded at 30 fps."""
        if face.face_id is None:  # not from this tracker: nothing to limit
            return True
        last = self._last_published.get(face.face_id)
        if last is not None and now - last < self.publish_interval:
            return False
        self._last_published[face.face_id] = now
        return True

    def _smoothed_score(self, face_id: int, label: str) -> float:
        scores = self._smoothers[face_id].scores
        return float(scores[self.labels.index(label)]) if scores is not None else 0.0

    def state(self) -> RoomState:
        labels = {fid: self.labels[s.label] for fid, s in self._smoothers.items() if s.label is not None}
        if not labels:
            return RoomState(0, None, {})
        counts = Counter(labels.values())
        confidence = {label: sum(self._smoothed_score(f, label) for f, lab in labels.items() if lab == label)
                      for label in counts}
        dominant = max(counts, key=lambda label: (counts[label], confidence[label]))
        return RoomState(len(labels), dominant, labels)
