"""Faces over time: tracker identities, per-face smoothing, publish pacing and the room's state.

Nothing is reported about a face the detector has not confirmed. Frames between two
detections are held, not classified; when the next detection confirms a track, the held
frames get that face's box interpolated between the two detections and are classified then,
in order. A track the detection does not confirm yields nothing for those frames (they were
a person who left, or pixels after a cut), and the room's state counts only the faces the
latest detection confirmed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from emotion_device.events import NOBODY
from emotion_device.face import Box, Detection, Face
from emotion_device.pipeline import face_from_scores
from emotion_device.smoothing import LabelSmoother, SmoothingOptions
from emotion_device.sources.base import Frame
from emotion_device.tracking import IouTracker, TrackerOptions


@dataclass
class RoomState:
    """What the retained state topic says: who is in view and the dominant expression."""

    faces: int
    dominant: str
    labels: dict[int, str]  # face_id -> smoothed label

    def to_dict(self) -> dict:
        return {"faces": self.faces, "dominant": self.dominant,
                "face_labels": {str(k): v for k, v in sorted(self.labels.items())}}


@dataclass
class Located:
    """The confirmed faces of one frame, ready to crop and classify: (face_id, box) each."""

    index: int  # the daemon's frame counter, which the tracker counts in
    frame: Frame
    faces: list[tuple[int, Box]]


def interpolate(a: Box, b: Box, t: float) -> Box:
    """The box a fraction `t` of the way from `a` to `b`."""
    return Box(*(round(u + (v - u) * t) for u, v in zip(a.to_list(), b.to_list())))


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
        self._held: list[tuple[int, Frame]] = []
        self._confirmed: set[int] = set()

    def end_all(self) -> None:
        """Scene cut, source outage, or unrelated stills: every face is gone, ids are not reused."""
        self.tracker.clear()
        self._held.clear()
        self._confirmed.clear()
        self._forget_gone()

    def hold(self, index: int, frame: Frame) -> None:
        """A frame without detection waits for the next detection to say who was in it."""
        self._held.append((index, frame))

    def discard_held(self) -> None:
        """Frames that no detection will confirm (it failed): nothing is said about them."""
        self._held.clear()

    def pop_last_held(self) -> tuple[int, Frame] | None:
        """The latest held frame, taken out so a detection on it can settle the others."""
        return self._held.pop() if self._held else None

    def confirm(self, index: int, frame: Frame, detections: list[Detection]) -> list[Located]:
        """Match this frame's detections to the tracks; returns, in frame order, the held
        frames with the boxes of the tracks this detection confirmed, then this frame."""
        before = {fid: (t.box, t.last_detected) for fid, t in self.tracker.tracks.items()}
        ids = self.tracker.update([d.box for d in detections], index)
        self._scores = {fid: d.score for fid, d in zip(ids, detections)}
        located = []
        for held_index, held in self._held:
            faces = []
            for fid, detection in zip(ids, detections):
                if fid in before and before[fid][1] < held_index:
                    box, last = before[fid]
                    faces.append((fid, interpolate(box, detection.box, (held_index - last) / (index - last))))
            if faces:
                located.append(Located(held_index, held, faces))
        self._held.clear()
        located.append(Located(index, frame, list(zip(ids, (d.box for d in detections)))))
        self._confirmed = set(ids)
        self._forget_gone()
        return located

    def _forget_gone(self) -> None:
        for fid in set(self._smoothers) - set(self.tracker.tracks):
            del self._smoothers[fid]
            self._last_published.pop(fid, None)

    def observe(self, faces: list[tuple[int, Box]], scores: np.ndarray) -> list[Face]:
        """Feed one frame's classified faces to their smoothers."""
        observed = []
        for (fid, box), row in zip(faces, scores):
            smoother = self._smoothers.setdefault(fid, LabelSmoother(self.smoothing))
            smoothed = smoother.update(row)
            assert smoother.scores is not None  # set by update()
            face = face_from_scores(box, row, self.labels, self._scores.get(fid))
            face.face_id = fid
            face.smoothed_label = self.labels[smoothed]
            face.smoothed_scores = {label: float(s) for label, s in zip(self.labels, smoother.scores)}
            observed.append(face)
        return observed

    def due(self, face: Face, now: float) -> bool:
        """True at most once per publish interval per face, so MQTT is not flooded at 30 fps.
        `now` is the frame's time; a clock that went back (NTP) publishes rather than stalls."""
        if face.face_id is None:  # not from this tracker: nothing to limit
            return True
        last = self._last_published.get(face.face_id)
        if last is not None and 0 <= now - last < self.publish_interval:
            return False
        self._last_published[face.face_id] = now
        return True

    def _smoothed_score(self, face_id: int, label: str) -> float:
        scores = self._smoothers[face_id].scores
        return float(scores[self.labels.index(label)]) if scores is not None else 0.0

    def state(self) -> RoomState:
        labels = {fid: self.labels[s.label] for fid, s in self._smoothers.items()
                  if s.label is not None and fid in self._confirmed}
        if not labels:
            return RoomState(0, NOBODY, {})
        counts = Counter(labels.values())
        confidence = {label: sum(self._smoothed_score(f, label) for f, lab in labels.items() if lab == label)
                      for label in counts}
        dominant = max(counts, key=lambda label: (counts[label], confidence[label]))
        return RoomState(len(labels), dominant, labels)
