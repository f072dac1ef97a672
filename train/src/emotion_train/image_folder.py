"""A folder-per-class image dataset, `root/<label>/*.png|jpg`, as the original study kept it.

Images may sit in sub-folders of a class folder (`root/<label>/<person>/*.jpg`): they belong
to that class, and the sub-folder can name the person or session for a grouped split
(see folder_split).

Folder names are dataset words mapped onto the vocabulary (anger -> angry, joy -> happy,
sorrow -> sad, casual -> neutral, ...). Small images are taken to be face crops already, as
FER2013's are; larger photos go through the device's own detector and cropping, so a
fine-tuned model sees faces framed exactly as it will on the Pi. Every file that yields no
face is logged and returned with its reason: a silently shrinking dataset hides bad data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emotion_device.detectors import FaceDetector, create_detector
from emotion_device.images import IMAGE_SUFFIXES, ImageReadError, read_image
from emotion_device.labels import canonical_label, label_set
from emotion_device.preprocess import INPUT_SIZE, CropSpec, crop_face, resize_face, to_gray
from emotion_train.fer2013 import FaceDataset

log = logging.getLogger(__name__)

# Haar's smallest window is 24 px and it rarely finds a face filling a 48 px image, so an image
# this small and about square is a face crop already (FER2013's are 48x48).
FACE_CROP_MAX_SIDE = 2 * INPUT_SIZE
FACE_CROP_MAX_ASPECT = 1.25
LABEL_SOURCE = "folder"


class NoFaceFound(ValueError):
    """The detector found no face in an image."""


@dataclass
class SkippedImage:
    path: str
    reason: str


@dataclass
class FolderDataset:
    """The faces that could be used, the files they came from, and the files that could not."""

    data: FaceDataset  # data.rows index `files`
    files: list[str]
    skipped: list[SkippedImage] = field(default_factory=list)


def is_face_crop(gray: np.ndarray) -> bool:
    height, width = gray.shape[:2]
    long_side, short_side = max(height, width), min(height, width)
    return long_side <= FACE_CROP_MAX_SIDE and long_side / short_side <= FACE_CROP_MAX_ASPECT


class FaceExtractor:
    """One image -> one 48x48 grayscale face: a crop as it is, or a photo's largest face."""

    def __init__(self, detector: FaceDetector | None = None, crop_spec: CropSpec | None = None) -> None:
        self._detector = detector
        self.crop_spec = crop_spec or CropSpec()

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:  # built on first use: a folder of crops never needs one
            self._detector = create_detector("haar")
        return self._detector

    def __call__(self, image: np.ndarray) -> np.ndarray:
        gray = to_gray(image)
        if is_face_crop(gray):
            return resize_face(gray)
        detections = self.detector.detect(gray)
        if not detections:
            raise NoFaceFound(f"no face found in a {gray.shape[1]}x{gray.shape[0]} image")
        largest = max(detections, key=lambda d: d.box.w * d.box.h)
        return resize_face(crop_face(gray, largest.box, self.crop_spec))


def _class_folders(root: Path) -> list[tuple[Path, str]]:
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} not found")
    folders = [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    if not folders:
        raise ValueError(f"{root} has no class folders; expected {root}/<label>/*.png")
    return [(folder, canonical_label(folder.name)) for folder in folders]


def _files_under(folder: Path) -> list[Path]:
    """Every file below a class folder, sub-folders included, sorted; hidden ones left out."""
    return sorted(path for path in folder.rglob("*") if path.is_file()
                  and not any(part.startswith(".") for part in path.relative_to(folder).parts))


def load_image_folder(root: Path, label_set_name: str,
                      extractor: FaceExtractor | None = None) -> FolderDataset:
    """Every image under root/<label>/ as one face, for a label set; see the module docstring."""
    root = Path(root)
    labels = label_set(label_set_name)
    extractor = extractor or FaceExtractor()
    faces, classes, files, skipped = [], [], [], []

    def skip(path: Path, reason: str) -> None:
        log.warning("skipped %s: %s", path, reason)
        skipped.append(SkippedImage(str(path), reason))

    for folder, label in _class_folders(root):
        for path in _files_under(folder):
            if label not in labels:
                skip(path, f"class {label!r} (folder {folder.name!r}) is not in label set {label_set_name}")
            elif path.suffix.lower() not in IMAGE_SUFFIXES:
                skip(path, f"not an image file (suffix {path.suffix or 'none'!r})")
            else:
                try:
                    faces.append(extractor(read_image(path)))
                except (ImageReadError, NoFaceFound) as exc:
                    skip(path, str(exc).removeprefix(f"{path}: "))
                    continue
                classes.append(labels.index(label))
                files.append(str(path))
    y = np.array(classes, dtype=np.int64)
    data = FaceDataset(
        x=np.stack(faces) if faces else np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.uint8), y=y,
        targets=np.eye(len(labels), dtype=np.float32)[y], labels=labels, rows=np.arange(len(y)),
        source=str(root), label_source=LABEL_SOURCE,
    )
    log.info("%s: %d faces %s, %d files skipped", root, len(data), data.class_counts(), len(skipped))
    return FolderDataset(data, files, skipped)
