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


def write_balanced_subset(archive: Path, out_dir: Path, per_class: int, label_set_name: str,
                          label_source: str, seed: int, exclude: list[Path] | None = None) -> dict:
    """Write up to `per_class` faces of each class as out_dir/<label>/fer<row>.png; returns the manifest.

    `exclude` lists other subsets (folders or manifests) whose faces must not be drawn again, so
    that a held-out test folder shares no face with a training folder.
    """
    data = load_fer2013_npz(archive, label_set_name, label_source)
    taken = set().union(*(manifest_rows(path) for path in exclude or []))
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    chosen: dict[str, list[int]] = {}
    for index, label in enumerate(data.labels):
        members = np.flatnonzero((data.y == index) & ~np.isin(data.rows, list(taken)))
        if len(members) < per_class:
            log.warning("%s has only %d faces; taking all of them", label, len(members))
        picked = np.sort(rng.choice(members, size=min(per_class, len(members)), replace=False))
        folder = out / label
        folder.mkdir(parents=True, exist_ok=True)
        for position in picked:
            row = int(data.rows[position])
            if not cv2.imwrite(str(folder / f"fer{row:05d}.png"), data.x[position]):
                raise OSError(f"could not write {folder / f'fer{row:05d}.png'}")
        chosen[label] = [int(data.rows[p]) for p in picked]
    manifest = {
        "source": str(archive), "label_set": label_set_name, "label_source": label_source,
        "per_class": per_class, "seed": seed, "excluded": [str(path) for path in exclude or []],
        "class_counts": {label: len(rows) for label, rows in chosen.items()},
        "rows": chosen,  # row indices in the source archive
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("wrote %d faces to %s %s", sum(manifest["class_counts"].values()), out, manifest["class_counts"])
    return manifest
