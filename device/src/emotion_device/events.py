"""The records the daemon emits; sinks serialize these, so every sink speaks one schema."""

from __future__ import annotations

from dataclasses import dataclass

from emotion_device.face import Face

SCHEMA_VERSION = 1


@dataclass
class FaceEvent:
    """One classified face in one frame. `seq` increases by one per event for the whole run."""

    seq: int
    timestamp: float
    frame: int
    origin: str
    face_index: int
    face: Face

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA_VERSION,
            "seq": self.seq,
            "ts": round(self.timestamp, 3),
            "frame": self.frame,
            "source": self.origin,
            "face_index": self.face_index,
            **self.face.to_dict(),
        }
