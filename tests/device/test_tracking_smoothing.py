import numpy as np
import pytest

from emotion_device.face import Box
from emotion_device.smoothing import LabelSmoother, SmoothingOptions
from emotion_device.tracking import IouTracker, TrackerOptions, iou


def test_iou():
    assert iou(Box(0, 0, 10, 10), Box(0, 0, 10, 10)) == 1.0
    assert iou(Box(0, 0, 10, 10), Box(20, 20, 5, 5)) == 0.0
    assert iou(Box(0, 0, 10, 10), Box(5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_faces_keep_their_ids_while_they_move_and_new_faces_get_new_ids():
    tracker = IouTracker()
    a, b = tracker.update([Box(10, 10, 50, 50), Box(200, 10, 50, 50)], frame=0)
    assert a != b
    # both move a little; listed in the other order
    assert tracker.update([Box(205, 12, 50, 50), Box(14, 11, 50, 50)], frame=1) == [b, a]
    ids = tracker.update([Box(18, 12, 50, 50), Box(400, 300, 60, 60)], frame=2)
    assert ids[0] == a and ids[1] not in (a, b)


def test_detections_match_the_predicted_boxes_and_tracks_expire():
    tracker = IouTracker(TrackerOptions(max_missed_frames=5))
    (fid,) = tracker.update([Box(0, 0, 40, 40)], frame=0)
    tracker.update([Box(10, 0, 40, 40)], frame=5)  # moving right at 2 px/frame
    assert tracker.tracks[fid].predicted(8) == Box(16, 0, 40, 40)
    assert tracker.update([Box(24, 0, 40, 40)], frame=10) == [fid]  # the prediction kept it
    assert tracker.expire(frame=16) == [fid] and tracker.tracks == {}


def test_ids_are_not_reused_after_every_track_ended():
    tracker = IouTracker()
    (first,) = tracker.update([Box(0, 0, 40, 40)], frame=0)
    tracker.clear()
    (second,) = tracker.update([Box(0, 0, 40, 40)], frame=1)  # same place, but a new scene
    assert second != first


def test_smoothing_holds_the_label_until_a_challenger_leads_long_enough():
    smoother = LabelSmoother(SmoothingOptions(alpha=0.5, margin=0.1, hold_frames=3))
    happy, sad = np.array([0.8, 0.2]), np.array([0.1, 0.9])
    assert smoother.update(happy) == 0
    assert smoother.update(sad) == 0  # one frame of sad: EMA 0.45/0.55, not yet 3 frames ahead
    assert smoother.update(happy) == 0  # flicker back resets the streak
    labels = [smoother.update(sad) for _ in range(4)]
    assert labels[-1] == 1 and labels[0] == 0
    np.testing.assert_allclose(smoother.scores.sum(), 1.0, rtol=1e-6)


def test_smoothing_options_are_validated():
    with pytest.raises(ValueError, match="alpha"):
        SmoothingOptions(alpha=0)
