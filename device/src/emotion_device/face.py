"""Plain data that crosses the device's boundaries: detector boxes and classified faces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels of the frame it was found in."""

    x: int
    y: int
    w: int
    h: int

    def scaled(self, factor: float) -> Box:
        return Box(*(round(v * factor) for v in (self.x, self.y, self.w, self.h)))

    def clipped(self, width: int, height: int) -> Box:
        """The part of the box inside a width x height frame."""
        x0, y0 = max(0, self.x), max(0, self.y)
        x1, y1 = min(width, self.x + self.w), min(height, self.y + self.h)
        return Box(x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    def to_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass
class Face:
    """One classified face: where it is, the model's scores per label and the top label.

    In the daemon a face also has a stable `face_id` from the tracker and the smoothed
    label and scores of that track; `classify` on single photos leaves them empty.
    """

    box: Box
    scores: dict[str, float]
    label: str
    confidence: float
    detector_score: float | None = None
    face_id: int | None = None
    smoothed_label: str | None = None
    smoothed_scores: dict[str, float] | None = None

    def to_dict(self) -> dict:
        data: dict = {"face_id": self.face_id} if self.face_id is not None else {}
        data.update({
            "box": self.box.to_list(),
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
        })
        if self.smoothed_label is not None:
            data["smoothed_label"] = self.smoothed_label
            data["smoothed_scores"] = {k: round(v, 4) for k, v in (self.smoothed_scores or {}).items()}
        if self.detector_score is not None:
            data["detector_score"] = round(self.detector_score, 4)
        return data


@dataclass(frozen=True)
class Detection:
    """A detector's output: a box in frame pixels and the detector's confidence, if it has one."""

    box: Box
    score: float | None = None
