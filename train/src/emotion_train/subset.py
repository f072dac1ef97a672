"""Draw a small, seeded, class-balanced folder dataset from a FER2013 archive.

The original study fine-tuned on about 260 images in folders; this rebuilds a set of that size
and layout from FER2013 Training, so transfer learning can be reproduced and compared.
`manifest.json` records where each image came from. The images stay FER2013's (research-only):
write them outside the repository.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np

from emotion_train.fer2013 import load_fer2013_npz

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


def manifest_rows(path: Path) -> set[int]:
    """Every archive row a subset's manifest.json (or the folder holding it) took."""
    path = Path(path)
    manifest = json.loads((path / MANIFEST if path.is_dir() else path).read_text())
    return {row for rows in manifest["rows"].values() for row in rows}


def balanced_positions(y: np.ndarray, num_classes: int, per_class: int | None, seed: int,
                       allowed: np.ndarray | None = None) -> np.ndarray:
    """Up to `per_class` positions of each class (all of them for None), sorted. Each class is
    one seeded permutation cut at per_class, so a smaller subset is part of a larger one with
    the same seed: a learning curve adds faces instead of drawing new ones."""
    rng = np.random.default_rng(seed)
    chosen = []
    for index in range(num_classes):
        members = np.flatnonzero((y == index) & (True if allowed is None else allowed))
        order = rng.permutation(members)
        if per_class is not None and len(members) < per_class:
            log.warning("class %d has only %d faces; taking all of them", index, len(members))
        chosen.append(order if per_class is None else order[:per_class])
    return np.sort(np.concatenate(chosen))


def write_balanced_subset(archive: Path, out_dir: Path, per_class: int, label_set_name: str,
                          label_source: str, seed: int, exclude: list[Path] | None = None) -> dict:
    """Write up to `per_class` faces of each class as out_dir/<label>/fer<row>.png; returns the manifest.

    `exclude` lists other subsets (folders or manifests) whose faces must not be drawn again, so
    that a held-out test folder shares no face with a training folder.
    """
    data = load_fer2013_npz(archive, label_set_name, label_source)
    taken = set().union(*(manifest_rows(path) for path in exclude or []))
    positions = balanced_positions(data.y, len(data.labels), per_class, seed,
                                   allowed=~np.isin(data.rows, list(taken)))
    out = Path(out_dir)
    chosen: dict[str, list[int]] = {}
    for index, label in enumerate(data.labels):
        picked = positions[data.y[positions] == index]
        folder = out / label
        folder.mkdir(parents=True, exist_ok=True)
        for position in picked:
            row = int(data.rows[position])
            if not cv2.imwrite(str(folder / f"fer{row:05d}.png"), data.x[position]):
                raise OSError(f"could not write {folder / f'fer{row:05d}.png'}")
        chosen[label] = [int(data.rows[p]) for p in picked]
    class_counts = {label: len(rows) for label, rows in chosen.items()}
    manifest = {
        "source": str(archive), "label_set": label_set_name, "label_source": label_source,
        "per_class": per_class, "seed": seed, "excluded": [str(path) for path in exclude or []],
        "class_counts": class_counts,
        "rows": chosen,  # row indices in the source archive
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("wrote %d faces to %s %s", sum(class_counts.values()), out, class_counts)
    return manifest
