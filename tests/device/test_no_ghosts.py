"""No ghost faces (real clips, real detector and model): a face is reported only where the
detector confirmed it; a scene cut or an outage ends every face; a new person gets a new id."""

import json

from emotion_device.assemble import build_daemon, build_pipeline
from emotion_device.config import parse_config
from emotion_device.daemon import Daemon, LoopOptions
from emotion_device.face_tracks import FaceTracks
from emotion_device.images import read_image
from emotion_device.sinks import JsonLinesSink
from emotion_device.sources import ResilientSource
from tests.conftest import MODELS
from tests.device.clips import write_clip
from tests.device.test_daemon import FlakyCamera


def _run(tmp_path, clip, name="faces.jsonl", **sections):
    data = {"model": {"name": str(MODELS / "emotion5.tflite")}, "source": {"uri": str(clip)},
            "output": {"jsonl": str(tmp_path / name), "publish_interval": 0.0}}
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    build_daemon(parse_config(data)).run()
    return [json.loads(line) for line in (tmp_path / name).read_text().splitlines()]


def _of(records, kind):
    return [r for r in records if r["type"] == kind]


def test_a_face_that_left_is_not_reported_on_the_frames_after(tmp_path, face_photos, faceless_photo):
    # The person is in frames 0-11, then the picture shows a coffee cup. With the scene-cut
    # check off, only the detector can tell: at every_n 5 it runs on frames 0, 5, 10 and 15.
    clip = write_clip(tmp_path / "leave.avi", [(face_photos[0], 12), (faceless_photo, 12)])
    every_5 = _run(tmp_path, clip, "every5.jsonl", detector={"every_n": 5}, tracking={"scene_cut": 0.0})
    every_1 = _run(tmp_path, clip, "every1.jsonl", detector={"every_n": 1}, tracking={"scene_cut": 0.0})
    frames_5 = [r["frame"] for r in _of(every_5, "face")]
    frames_1 = [r["frame"] for r in _of(every_1, "face")]
    # frames 0-10 are confirmed by the detections on 0, 5 and 10; 11-14 wait for frame 15's
    # detection, which finds nobody: frame 11 still showed the person, but nothing confirms it
    assert frames_5 == list(range(11))
    assert set(frames_5) <= set(frames_1) and max(frames_1) < 12
    assert _of(every_5, "state")[-1]["faces"] == 0


def test_a_scene_cut_ends_every_face_and_a_new_person_gets_a_new_id(tmp_path, face_photos, faceless_photo):
    second = face_photos[2] if len(face_photos) > 2 else face_photos[0]
    clip = write_clip(tmp_path / "cuts.avi", [(face_photos[0], 8), (second, 8), (faceless_photo, 8)])
    records = _run(tmp_path, clip, detector={"every_n": 5})
    faces = _of(records, "face")
    first_ids = {r["face_id"] for r in faces if r["frame"] < 8}
    second_ids = {r["face_id"] for r in faces if 8 <= r["frame"] < 16}
    assert len(first_ids) == 1 and len(second_ids) == 1 and first_ids != second_ids
    assert not [r for r in faces if r["frame"] >= 16]
    last = _of(records, "state")[-1]
    assert last["faces"] == 0 and last["dominant"] == "nobody" and last["face_labels"] == {}


def test_an_outage_ends_every_face_and_the_face_after_it_is_new(tmp_path, face_photos):
    config = parse_config({"model": {"name": str(MODELS / "emotion5.tflite")}})
    pipeline = build_pipeline(config)
    camera = FlakyCamera(read_image(face_photos[0]), good=3, refusals=1)
    source = ResilientSource(camera, max_delay=0.02, min_delay=0.01)
    daemon = Daemon(source, pipeline, FaceTracks(pipeline.labels, publish_interval=0.0),
                    [JsonLinesSink(tmp_path / "faces.jsonl")], LoopOptions(max_frames=6))
    daemon.run()
    records = [json.loads(line) for line in (tmp_path / "faces.jsonl").read_text().splitlines()]
    kinds = [(r["type"], r.get("faces"), r.get("face_id")) for r in records if r["type"] in ("face", "state")]
    before, after = kinds.index(("state", 0, None)), len(kinds)
    ids_before = {k[2] for k in kinds[:before] if k[0] == "face"}
    ids_after = {k[2] for k in kinds[before:after] if k[0] == "face"}
    assert len(ids_before) == 1 and len(ids_after) == 1 and ids_before != ids_after
    assert ("state", 1, None) in kinds[before:]  # the camera came back and so did a face
