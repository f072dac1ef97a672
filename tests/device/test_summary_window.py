"""The summary window on its own: alignment, zeros for an empty room, bounded after a jump."""

from emotion_device.face import Box, Face
from emotion_device.summary import MAX_EMPTY_WINDOWS, SummaryWindow

LABELS = ["happy", "sad"]


def _face(face_id: int, label: str) -> Face:
    face = Face(Box(0, 0, 10, 10), dict.fromkeys(LABELS, 0.5), label, 0.5)
    face.face_id, face.smoothed_label = face_id, label
    return face


def test_windows_align_and_an_empty_room_reports_zeros():
    window = SummaryWindow(LABELS, 60.0)
    assert window.add(125.0, [_face(1, "happy")], 0.0) == []
    assert window.add(126.0, [_face(1, "happy"), _face(2, "sad")], 1.0) == []
    closed = window.tick(245.0)  # the window of 120-180 and an empty one, 180-240
    assert [c["start"] for c in closed] == [120.0, 180.0]
    assert closed[0]["face_seconds"] == {"happy": 1.0, "sad": 1.0} and closed[0]["max_faces"] == 2
    assert closed[0]["distinct_faces"] == 2 and closed[0]["share"] == {"happy": 50.0, "sad": 50.0}
    assert closed[1]["face_seconds"] == {"happy": 0.0, "sad": 0.0} and closed[1]["mean_faces"] == 0.0


def test_a_clock_that_jumps_by_decades_gives_a_bounded_number_of_windows():
    window = SummaryWindow(LABELS, 60.0)
    window.add(0.0, [_face(1, "happy")], 0.0)  # a frame stamped 1970 (a camera without a clock)
    closed = window.tick(1.8e9)  # then the wall clock
    assert len(closed) <= MAX_EMPTY_WINDOWS + 1
    assert window.finish(1.8e9 + 30)[-1]["start"] == 1.8e9 // 60 * 60  # and it carries on from now
