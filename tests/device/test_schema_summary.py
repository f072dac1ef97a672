"""One schema and the summaries, on a real clip through the real daemon (JSON lines)."""

import json

import pytest

from emotion_device.assemble import build_daemon
from emotion_device.config import ConfigError, parse_config
from emotion_device.events import SCHEMA_VERSION
from tests.conftest import MODELS
from tests.device.clips import write_clip


@pytest.fixture(scope="module")
def records(tmp_path_factory, face_photos, faceless_photo):
    folder = tmp_path_factory.mktemp("summary")
    second = face_photos[2] if len(face_photos) > 2 else face_photos[0]
    # 10 fps: one person for 3 s, nobody for 1 s, another person for 2 s
    clip = write_clip(folder / "room.avi", [(face_photos[0], 30), (faceless_photo, 10), (second, 20)])
    config = parse_config({"model": {"name": str(MODELS / "emotion5.tflite")}, "source": {"uri": str(clip)},
                           "output": {"jsonl": str(folder / "log.jsonl"), "summary_interval": 2.0}})
    build_daemon(config).run()
    return [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]


def test_every_record_has_the_envelope_and_each_type_a_gapless_seq(records):
    assert {r["type"] for r in records} == {"face", "state", "stats", "summary"}
    runs = {r["run"] for r in records}
    assert len(runs) == 1
    for record in records:
        assert record["schema"] == SCHEMA_VERSION and isinstance(record["ts"], float)
        assert record["device_id"]
    for kind in ("face", "state", "stats", "summary"):
        seqs = [r["seq"] for r in records if r["type"] == kind]
        assert seqs == list(range(1, len(seqs) + 1)), kind


def test_summaries_count_face_seconds_faces_seen_and_faces_in_view(records):
    summaries = [r for r in records if r["type"] == "summary"]
    assert [s["ts"] for s in summaries] == [0.0, 2.0, 4.0]  # aligned windows of media time
    assert [s["interval_s"] for s in summaries] == [2.0, 2.0, pytest.approx(1.9)]  # the last is cut short
    first, middle, last = summaries
    # 10 frames a second, each face credited with the time since the frame before it
    assert sum(first["face_seconds"].values()) == pytest.approx(1.9, abs=0.15)
    assert sum(middle["face_seconds"].values()) == pytest.approx(1.0, abs=0.15)  # 2.0-2.9 s, then nobody
    assert sum(last["face_seconds"].values()) == pytest.approx(1.9, abs=0.15)
    for summary in summaries:
        assert summary["distinct_faces"] == 1 and summary["max_faces"] == 1
        assert sum(summary["share"].values()) == pytest.approx(100, abs=0.5)
        total = sum(summary["face_seconds"].values())
        assert summary["mean_faces"] == pytest.approx(total / summary["interval_s"], abs=0.01)
    faces = [r for r in records if r["type"] == "face"]
    assert len({r["face_id"] for r in faces}) == 2  # the second person is a new face


def test_a_state_record_follows_every_summary(records):
    kinds = [r["type"] for r in records]
    for index, kind in enumerate(kinds[:-1]):
        if kind == "summary" and kinds[index + 1] != "summary":
            assert kinds[index + 1] == "state"
    empty = [r for r in records if r["type"] == "state" and r["faces"] == 0]
    assert empty and all(r["dominant"] == "nobody" for r in empty)


def test_home_assistant_expiry_must_outlast_the_summary_interval():
    with pytest.raises(ConfigError, match="expire_after"):
        parse_config({"mqtt": {"host": "broker", "expire_after": 30}, "output": {"summary_interval": 60.0}})
