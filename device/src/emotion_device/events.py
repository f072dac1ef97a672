"""The records the daemon emits, in one schema that every sink writes as it is.

Every record carries the same envelope: `schema`, `type` (face, state, stats or summary),
`ts`, `device_id`, `run` and `seq`. Each type counts its own `seq`, from 1 and without gaps
for the whole run, so a consumer that sees a gap within one `run` has lost a record; a new
`run` (the daemon restarted) starts every counter at 1 again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from emotion_device.face import Face

SCHEMA_VERSION = 2
RECORD_TYPES = ("face", "state", "stats", "summary")
NOBODY = "nobody"  # the state's dominant expression when no face is in view


def new_run_id() -> str:
    """The run's start on the wall clock, to the millisecond: unique per device in practice."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Record:
    """One record: its envelope, and the body its type defines (README, "Output schema")."""

    type: str
    seq: int
    ts: float
    device_id: str
    run: str
    body: dict

    def to_dict(self) -> dict:
        return {"schema": SCHEMA_VERSION, "type": self.type, "ts": round(self.ts, 3),
                "device_id": self.device_id, "run": self.run, "seq": self.seq, **self.body}


class Records:
    """Makes the records of one run: the envelope, with a gapless counter per type."""

    def __init__(self, device_id: str, run: str | None = None) -> None:
        self.device_id = device_id
        self.run = run or new_run_id()
        self._seq: Counter[str] = Counter()

    def make(self, kind: str, ts: float, body: dict) -> Record:
        if kind not in RECORD_TYPES:
            raise ValueError(f"unknown record type {kind!r}")
        self._seq[kind] += 1
        return Record(kind, self._seq[kind], ts, self.device_id, self.run, body)

    def count(self, kind: str) -> int:
        """How many records of this type were made (the last seq)."""
        return self._seq[kind]


def face_body(frame: int, origin: str, face_index: int, face: Face) -> dict:
    """What a face record says besides the envelope."""
    return {"frame": frame, "source": origin, "face_index": face_index, **face.to_dict()}
