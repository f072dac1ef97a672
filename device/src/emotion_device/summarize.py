"""`emotion-device summarize`: per-minute or per-hour tables from the daemon's JSON-lines logs.

It reads the summary records (schema 2), from the files named and from each one's rotated
copies (faces.jsonl.1, .2, ...), oldest first, and adds up the windows that fall into each
minute or hour, per device. A line that is not a record (a torn last line) is skipped and
counted. The timeline plot needs the optional extra `emotion-device[plots]` (matplotlib).
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from emotion_device.errors import UserError

BUCKETS = {"minute": 60, "hour": 3600}


@dataclass
class Bucket:
    """The summaries of one device that start within one minute or hour."""

    device_id: str
    start: float
    seconds: float = 0.0
    face_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    max_faces: int = 0
    faces_seen: int = 0  # the most distinct faces one summary window saw

    def add(self, summary: dict) -> None:
        self.seconds += summary["interval_s"]
        for label, seconds in summary["face_seconds"].items():
            self.face_seconds[label] += seconds
        self.max_faces = max(self.max_faces, summary["max_faces"])
        self.faces_seen = max(self.faces_seen, summary["distinct_faces"])

    @property
    def mean_faces(self) -> float:
        return sum(self.face_seconds.values()) / self.seconds if self.seconds else 0.0

    def share(self, label: str) -> float:
        total = sum(self.face_seconds.values())
        return 100 * self.face_seconds[label] / total if total else 0.0


def with_rotations(path: Path) -> list[Path]:
    """`path` and its rotated copies (path.1 is newer than path.2), oldest first."""
    pattern = re.compile(re.escape(path.name) + r"\.(\d+)$")
    rotated = sorted(((int(m.group(1)), p) for p in path.parent.glob(f"{path.name}.*")
                      if (m := pattern.match(p.name))), reverse=True)
    return [p for _, p in rotated] + ([path] if path.exists() else [])


def read_summaries(paths: list[Path]) -> tuple[list[dict], int]:
    """Every summary record in the files and their rotations, and how many lines were unreadable."""
    files: list[Path] = []
    for path in paths:
        found = with_rotations(path)
        if not found:
            raise UserError(f"{path}: no such log file")
        files += [f for f in found if f not in files]
    summaries, bad = [], 0
    for file in files:
        with open(file, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    bad += 1
                    continue
                if isinstance(record, dict) and record.get("type") == "summary":
                    summaries.append(record)
    return summaries, bad


def bucketize(summaries: list[dict], per: str) -> tuple[list[Bucket], list[str]]:
    """Buckets in time order (then device), and every label seen, in first-seen order."""
    size = BUCKETS[per]
    buckets: dict[tuple[str, float], Bucket] = {}
    labels: list[str] = []
    for summary in sorted(summaries, key=lambda s: (s["ts"], s["device_id"])):
        start = summary["ts"] // size * size
        key = (summary["device_id"], start)
        bucket = buckets.setdefault(key, Bucket(summary["device_id"], start))
        bucket.add(summary)
        labels += [label for label in summary["face_seconds"] if label not in labels]
    return sorted(buckets.values(), key=lambda b: (b.start, b.device_id)), labels


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def rows(buckets: list[Bucket], labels: list[str]) -> list[dict]:
    return [{"start_utc": _time(b.start), "device_id": b.device_id, "seconds": round(b.seconds, 1),
             "mean_faces": round(b.mean_faces, 2), "max_faces": b.max_faces, "faces_seen": b.faces_seen,
             **{f"{label}_pct": round(b.share(label), 1) for label in labels}} for b in buckets]


def format_table(table: list[dict]) -> str:
    if not table:
        return "no summary records"
    columns = list(table[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in table)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r[c]).rjust(widths[c]) for c in columns) for r in table]
    return "\n".join(lines)


def write_csv(table: list[dict], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]) if table else ["start_utc"])
        writer.writeheader()
        writer.writerows(table)


def write_timeline(buckets: list[Bucket], labels: list[str], path: Path, title: str) -> None:
    """Faces in view (mean and max) and each label's share over time, one PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("--plot needs matplotlib: pip install 'emotion-device[plots]'") from None
    devices = sorted({b.device_id for b in buckets})
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=[1, 2])
    for device in devices:
        mine = [b for b in buckets if b.device_id == device]
        when = [datetime.fromtimestamp(b.start, UTC) for b in mine]
        axes[0].step(when, [b.mean_faces for b in mine], where="post", label=f"{device} mean")
        axes[0].step(when, [b.max_faces for b in mine], where="post", linestyle=":", label=f"{device} max")
    axes[0].set_ylabel("faces in view")
    axes[0].legend(loc="upper right", fontsize="small")
    mine = [b for b in buckets if b.device_id == devices[0]] if devices else []
    when = [datetime.fromtimestamp(b.start, UTC) for b in mine]
    axes[1].stackplot(when, [[b.share(label) for b in mine] for label in labels], labels=labels, step="post")
    axes[1].set_ylabel(f"share of face-seconds, % ({devices[0] if devices else ''})")
    axes[1].set_ylim(0, 100)
    axes[1].legend(loc="upper right", fontsize="small", ncol=len(labels))
    axes[1].set_xlabel("time (UTC)")
    fig.suptitle(title)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
