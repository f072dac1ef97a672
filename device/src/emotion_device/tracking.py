"""Stable face identities across frames by box overlap (IoU), so smoothing can be per face.

The detector runs only every N frames; in between, each track's box is carried forward by
its last observed motion, which is enough at camera frame rates for people who sit or walk.
"""

from __future__ import annotations

from dataclasses import dataclass

from emotion_device.face import Box
from emotion_device.options import Options, option


def iou(a: Box, b: Box) -> float:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    face_id: int
    box: Box
    first_frame: int
    last_detected: int
    velocity: tuple[float, float] = (0.0, 0.0)  # box centre motion, pixels per frame

    def predicted(self, frame: int) -> Box:
        dt = frame - self.last_detected
        dx, dy = self.velocity
        return Box(round(self.box.x + dx * dt), round(self.box.y + dy * dt), self.box.w, self.box.h)


@dataclass
class TrackerOptions(Options):
    iou_threshold: float = option(0.3, gt=0, lt=1)
    max_missed_frames: int = option(15, ge=0)  # a face unseen by the detector this long is gone


class IouTracker:
    def __init__(self, options: TrackerOptions | None = None) -> None:
        self.options = options or TrackerOptions()
        self.tracks: dict[int, Track] = {}
        self._next_id = 1

    def update(self, boxes: list[Box], frame: int) -> list[int]:
        """Match this frame's detections to tracks; returns a face_id per box (new ids for new faces).

        Greedy matching by descending IoU against each track's predicted box: optimal for the
        handful of faces a camera sees, without a Hungarian solver.
        """
        pairs = sorted(
            ((iou(box, track.predicted(frame)), i, fid)
             for i, box in enumerate(boxes) for fid, track in self.tracks.items()),
            reverse=True,
        )
        assigned: dict[int, int] = {}
        used: set[int] = set()
        for overlap, i, fid in pairs:
            if overlap < self.options.iou_threshold:
                break
            if i in assigned or fid in used:
                continue
            assigned[i] = fid
            used.add(fid)
        ids = []
        for i, box in enumerate(boxes):
            known = assigned.get(i)
            if known is None:
                fid = self._next_id
                self._next_id += 1
                self.tracks[fid] = Track(fid, box, frame, frame)
            else:
                fid = known
                self._observe(self.tracks[fid], box, frame)
            ids.append(fid)
        self.expire(frame)
        return ids

    @staticmethod
    def _observe(track: Track, box: Box, frame: int) -> None:
        dt = max(1, frame - track.last_detected)
        old_cx, old_cy = track.box.x + track.box.w / 2, track.box.y + track.box.h / 2
        new_cx, new_cy = box.x + box.w / 2, box.y + box.h / 2
        track.velocity = ((new_cx - old_cx) / dt, (new_cy - old_cy) / dt)
        track.box = box
        track.last_detected = frame

    def expire(self, frame: int) -> list[int]:
        """Forget tracks the detector has not confirmed for too long; returns their ids."""
        gone = [fid for fid, t in self.tracks.items()
                if frame - t.last_detected > self.options.max_missed_frames]
        for fid in gone:
            del self.tracks[fid]
        return gone

    def follow(self, frame: int) -> list[tuple[int, Box]]:
        """Boxes for a frame without detection: every live track at its predicted position."""
        return [(fid, t.predicted(frame)) for fid, t in self.tracks.items()]
