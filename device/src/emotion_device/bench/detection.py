"""Recall and precision of each face-detector setting, on scenes whose faces are known.

There is no labelled video of a room, so the check makes one: real FER2013 faces (the faces
the classifier is trained on, 48x48 gray) pasted at 24-200 px into 640x480 frames cut from
the demo photos, at seeded random places. The photos' own faces are "ignore" regions: a
detection there is neither a hit nor a false alarm, and nothing is pasted over them. Besides
the pasted scenes, `group.jpeg` (four people, boxes checked by eye, plus a fifth cut off at the
top edge that counts either way) framed at 640x480 as the benchmark clip frames it.

A detection finds a face when their boxes overlap with IoU >= 0.3 (each face found once); any
other detection outside the ignore regions is a false positive. The detectors' own framing
differs from the pasted square (BlazeFace's box is scaled to look like Haar's), which 0.3
tolerates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from emotion_device.detectors import create_detector
from emotion_device.face import Box
from emotion_device.images import letterbox, read_image
from emotion_device.tracking import iou

log = logging.getLogger(__name__)

FRAME = (640, 480)
FACE_SIZES = (24, 32, 48, 64, 96, 128, 160, 200)
MATCH_IOU = 0.3

# The real faces in ../shared/demo, in each photo's own pixels [x, y, w, h], checked by eye.
DEMO_FACES: dict[str, list[list[int]]] = {
    "angry.jpg": [[104, 493, 985, 985]],
    "neutral.jpeg": [[192, 297, 610, 610]],
    "surprised.jpeg": [[610, 248, 437, 437]],
    "happy-baby.jpeg": [[457, 119, 327, 327]],
    "sad-baby.jpeg": [[320, 33, 801, 801]],
    "group.jpeg": [[301, 15, 158, 158], [605, 87, 158, 158], [181, 255, 144, 144], [909, 293, 172, 172]],
}
GROUP_CUT_OFF = [[950, 0, 140, 80]]  # the woman at the top right: only her chin is in the photo


@dataclass(frozen=True)
class DetectorSetting:
    """A named detector configuration under test."""

    label: str
    detector: str
    options: dict = field(default_factory=dict)

    def create(self):
        return create_detector(self.detector, **self.options)


SETTINGS = (
    DetectorSetting("haar@640 1.1/5/30 (old)", "haar", {"detect_width": 640}),
    DetectorSetting("haar@320 1.1/5/30", "haar", {"detect_width": 320}),
    DetectorSetting("fer: haar 1.1/5/50", "haar", {"detect_width": 0, "min_size": 50}),
    DetectorSetting("blazeface short 0.5", "blazeface", {"model": "short", "min_score": 0.5, "tiles": 1}),
    DetectorSetting("blazeface full 0.5", "blazeface", {"model": "full", "min_score": 0.5, "tiles": 1}),
    DetectorSetting("blazeface full 0.3", "blazeface", {"model": "full", "min_score": 0.3, "tiles": 1}),
    DetectorSetting("blazeface full 0.3 2x2 (def.)", "blazeface",
                    {"model": "full", "min_score": 0.3, "tiles": 2}),
)


@dataclass
class Scene:
    image: np.ndarray
    faces: list[Box]
    ignore: list[Box]
    name: str


def cover(image: np.ndarray, size: tuple[int, int] = FRAME) -> tuple[np.ndarray, float, int, int]:
    """Scale `image` to cover `size` and cut the centre: (frame, scale, x offset, y offset)."""
    width, height = size
    scale = max(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                         interpolation=cv2.INTER_AREA)
    left, top = (resized.shape[1] - width) // 2, (resized.shape[0] - height) // 2
    return resized[top:top + height, left:left + width].copy(), scale, left, top


def _moved(box: list[int], scale: float, left: int, top: int) -> Box:
    return Box(round(box[0] * scale - left), round(box[1] * scale - top), round(box[2] * scale),
               round(box[3] * scale))


def paste_face(frame: np.ndarray, face48: np.ndarray, box: Box) -> None:
    """Blend a gray face into `frame` at `box`, its border faded over a tenth of its size."""
    size = box.w
    interpolation = cv2.INTER_AREA if size < face48.shape[0] else cv2.INTER_LINEAR
    face = cv2.resize(face48, (size, size), interpolation=interpolation).astype(np.float32)
    ramp = max(1, size // 10)
    edge = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32)
    weight = np.clip((edge + 1) / ramp, 0, 1)
    alpha = np.minimum.outer(weight, weight)[:, :, None]
    region = frame[box.y:box.y + size, box.x:box.x + size].astype(np.float32)
    frame[box.y:box.y + size, box.x:box.x + size] = np.round(
        alpha * face[:, :, None] + (1 - alpha) * region).astype(np.uint8)


def _overlaps(box: Box, others: Iterable[Box], margin: float = 0.1) -> bool:
    grown = Box(round(box.x - margin * box.w), round(box.y - margin * box.h),
                round(box.w * (1 + 2 * margin)), round(box.h * (1 + 2 * margin)))
    return any(iou(grown, other) > 0 for other in others)


def fer_faces(npz: Path, count: int, seed: int) -> np.ndarray:
    """`count` seeded FER2013 faces that no FER+ annotator called "not a face"."""
    with np.load(npz) as data:
        usable = np.flatnonzero(data["ferplus_valid"] & (data["ferplus_votes"][:, 9] == 0))
        chosen = np.random.default_rng(seed).choice(usable, size=count, replace=False)
        return data["x"][np.sort(chosen)]


def pasted_scenes(demo: Path, faces: np.ndarray, scenes_per_photo: int = 20, per_scene: int = 4,
                  seed: int = 0) -> list[Scene]:
    """Frames cut from each demo photo with FER2013 faces pasted where the photo has none."""
    rng = np.random.default_rng(seed)
    scenes, used = [], 0
    for name, boxes in DEMO_FACES.items():
        photo = read_image(demo / name)
        background, scale, left, top = cover(photo)
        own = boxes + (GROUP_CUT_OFF if name == "group.jpeg" else [])
        ignore = [_moved(b, scale, left, top) for b in own]
        for number in range(scenes_per_photo):
            frame, placed = background.copy(), list[Box]()
            for slot in range(per_scene):
                size = FACE_SIZES[(number * per_scene + slot) % len(FACE_SIZES)]
                for _ in range(50):
                    x = int(rng.integers(0, FRAME[0] - size))
                    y = int(rng.integers(0, FRAME[1] - size))
                    box = Box(x, y, size, size)
                    if not _overlaps(box, ignore + placed):
                        paste_face(frame, faces[used % len(faces)], box)
                        used += 1
                        placed.append(box)
                        break
            if placed:
                scenes.append(Scene(frame, placed, ignore, f"{name}#{number}"))
    return scenes


def group_scene(demo: Path) -> Scene:
    """group.jpeg as the benchmark clip shows it: letterboxed into 640x480."""
    photo = read_image(demo / "group.jpeg")
    scale = min(FRAME[0] / photo.shape[1], FRAME[1] / photo.shape[0])
    top = (FRAME[1] - round(photo.shape[0] * scale)) // 2
    left = (FRAME[0] - round(photo.shape[1] * scale)) // 2
    return Scene(letterbox(photo, FRAME), [_moved(b, scale, -left, -top) for b in DEMO_FACES["group.jpeg"]],
                 [_moved(b, scale, -left, -top) for b in GROUP_CUT_OFF], "group.jpeg")


GROUP_FACE_WIDTH = 158  # the mean width of the four boxes in DEMO_FACES["group.jpeg"]
DISTANT_SIZES = (24, 32, 48, 64)


def distant_group(demo: Path, face_size: int) -> Scene:
    """group.jpeg shrunk until its faces are `face_size` px wide, as a camera further away would
    see the same four people, centred in a mid-gray 640x480 frame: small faces with their whole
    heads and bodies around them, which the pasted FER2013 crops lack."""
    photo = read_image(demo / "group.jpeg")
    scale = face_size / GROUP_FACE_WIDTH
    small = cv2.resize(photo, (round(photo.shape[1] * scale), round(photo.shape[0] * scale)),
                       interpolation=cv2.INTER_AREA)
    frame = np.full((FRAME[1], FRAME[0], 3), 128, np.uint8)
    top, left = (FRAME[1] - small.shape[0]) // 2, (FRAME[0] - small.shape[1]) // 2
    frame[top:top + small.shape[0], left:left + small.shape[1]] = small
    return Scene(frame, [_moved(b, scale, -left, -top) for b in DEMO_FACES["group.jpeg"]],
                 [_moved(b, scale, -left, -top) for b in GROUP_CUT_OFF], f"group.jpeg at {face_size} px")


def match(found: list[Box], scene: Scene) -> tuple[list[bool], list[Box]]:
    """Which of the scene's faces were found, and the false positives."""
    def ignored(box: Box) -> bool:
        cx, cy = box.x + box.w / 2, box.y + box.h / 2
        return any(iou(box, zone) >= MATCH_IOU or (zone.x <= cx <= zone.x + zone.w and
                                                   zone.y <= cy <= zone.y + zone.h) for zone in scene.ignore)

    pairs = sorted(((iou(d, f), i, j) for i, d in enumerate(found) for j, f in enumerate(scene.faces)),
                   reverse=True)
    hit, used = [False] * len(scene.faces), set()
    for overlap, i, j in pairs:
        if overlap < MATCH_IOU:
            break
        if i in used or hit[j]:
            continue
        hit[j] = True
        used.add(i)
    false = [d for i, d in enumerate(found) if i not in used and not ignored(d)]
    return hit, false


def _size_bin(width: int) -> int:
    return min(FACE_SIZES, key=lambda s: abs(s - width))


def evaluate(setting: DetectorSetting, scenes: list[Scene], group: Scene, distant: list[Scene]) -> dict:
    detector = setting.create()
    found_by_size = {s: [0, 0] for s in FACE_SIZES}  # size -> [found, total]
    false_positives, seconds = 0, 0.0
    for scene in scenes:
        gray = cv2.cvtColor(scene.image, cv2.COLOR_BGR2GRAY)
        started = time.perf_counter()
        boxes = [d.box for d in detector.detect(gray)]
        seconds += time.perf_counter() - started
        hit, false = match(boxes, scene)
        for face, ok in zip(scene.faces, hit):
            found_by_size[face.w][0] += ok
            found_by_size[face.w][1] += 1
        false_positives += len(false)
    found = sum(v[0] for v in found_by_size.values())
    total = sum(v[1] for v in found_by_size.values())
    def found_in(scene: Scene) -> tuple[list[bool], list[Box]]:
        return match([d.box for d in detector.detect(cv2.cvtColor(scene.image, cv2.COLOR_BGR2GRAY))], scene)

    group_hit, group_false = found_in(group)
    distant_found = {str(d.faces[0].w): sum(found_in(d)[0]) for d in distant}
    return {
        "setting": setting.label, "detector": setting.detector, "options": setting.options,
        "recall": round(found / total, 3) if total else None,
        "precision": round(found / (found + false_positives), 3) if found + false_positives else None,
        "faces": total, "false_positives": false_positives,
        "recall_by_size": {str(s): round(v[0] / v[1], 3) for s, v in found_by_size.items() if v[1]},
        "group_found": sum(group_hit), "group_faces": len(group.faces),
        "group_false_positives": len(group_false),
        "distant_group_found": distant_found,  # face width in px -> faces found of 4
        "ms_per_frame": round(1000 * seconds / max(1, len(scenes)), 2),
    }


def run_detection_check(demo: Path, faces_npz: Path, settings: Iterable[DetectorSetting] = SETTINGS,
                        scenes_per_photo: int = 20, seed: int = 0) -> dict:
    """Every setting on the same seeded scenes; one dict for JSON and the table."""
    faces = fer_faces(faces_npz, 6 * scenes_per_photo * 4, seed)
    scenes = pasted_scenes(demo, faces, scenes_per_photo, seed=seed)
    group = group_scene(demo)
    distant = [distant_group(demo, size) for size in DISTANT_SIZES]
    rows = []
    for setting in settings:
        try:
            rows.append(evaluate(setting, scenes, group, distant))
        except FileNotFoundError as exc:  # BlazeFace's package is optional
            log.warning("skipping %s: %s", setting.label, exc)
    return {"frame": list(FRAME), "scenes": len(scenes), "pasted_faces": sum(len(s.faces) for s in scenes),
            "match_iou": MATCH_IOU, "seed": seed, "faces_from": faces_npz.name, "rows": rows}


def _group(row: dict) -> str:
    false = row["group_false_positives"]
    return f"{row['group_found']}/{row['group_faces']}" + (f"+{false}" if false else "")


def format_detection(result: dict) -> str:
    sizes = [str(s) for s in FACE_SIZES]
    out = [f"detection check: {result['pasted_faces']} FER2013 faces pasted into {result['scenes']} "
           f"{result['frame'][0]}x{result['frame'][1]} frames from the demo photos "
           f"(IoU >= {result['match_iou']}), "
           "plus group.jpeg",
           f"{'setting':<30} {'recall':>6} {'prec':>6} {'FP':>4} " + " ".join(f"{s:>5}" for s in sizes)
           + f" {'group':>6} " + " ".join(f"{f'g{s}':>4}" for s in DISTANT_SIZES) + f" {'ms':>7}"]
    for r in result["rows"]:
        by = r["recall_by_size"]
        out.append(f"{r['setting']:<30} {r['recall']:>6.3f} {r['precision']:>6.3f} {r['false_positives']:>4} "
                   + " ".join(f"{by.get(s, float('nan')):>5.2f}" for s in sizes)
                   + f" {_group(r):>6} "
                   + " ".join(f"{r['distant_group_found'].get(str(s), '?')!s:>4}" for s in DISTANT_SIZES)
                   + f" {r['ms_per_frame']:>7.2f}")
    out.append("recall per pasted face size in px; group: group.jpeg's faces found of 4 (+false positives); "
               "gN: of its 4 faces when the photo is shrunk to N px faces; "
               "ms: detector time per frame, one core, under whatever load the machine had")
    return "\n".join(out)
