"""Plain data that crosses the device's boundaries: detector boxes and classified faces."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels of the frame it was found in."""

    x: int
    y: int
    w: int
    h: int

    def scaled(self, factor: float) -> Box:
        return Box(*(round(v * factor) for v in (self.x, self.y, self.w, self.h)))

    def to_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass
class Face:
    """One classified face: where it is, the model's scores per label and the top label."""

    box: Box
    scores: dict[str, float]
    label: str
    confidence: float
    detector_score: float | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = {
            "box": self.box.to_list(),
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
        }
        if self.detector_score is not None:
            data["detector_score"] = round(self.detector_score, 4)
        data.update(self.extra)
        return data


@dataclass(frozen=True)
class Detection:
    """A detector's output: a box in frame pixels and the detector's confidence, if it has one."""

    box: Box
    score: float | None = None
