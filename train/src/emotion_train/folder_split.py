"""Hold out part of a user's folder for validation: seeded, stratified, and grouped by person.

A few hundred photos of a few people are the usual fine-tuning set. A random split puts the
same person's photos on both sides, so validation measures how well the model remembers those
faces, not how it does on a new person, and early stopping then picks the wrong epoch. With a
group rule every photo of one person (or session) lands on the same side.

Group rules read the image's path below its class folder (`angry/anna/01.jpg` -> `anna/01.jpg`):
- "subfolder": the first sub-folder (`root/<label>/<person>/*.jpg`);
- "prefix": the file name up to its first `_` or `-` (`anna_01.jpg`, `s03-happy-2.png`);
- any other value is a regular expression whose first group is the id (`(s\\d+)`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from emotion_train.splits import check_fraction, stratified_holdout

GROUP_RULES = ("subfolder", "prefix")
_PREFIX = re.compile(r"^([^_\-]+)[_\-]")


@dataclass
class Split:
    """Positions into a dataset: the faces to train on and the faces that validate."""

    train: np.ndarray
    val: np.ndarray
    description: str


def _relative(path: str, root: Path) -> Path:
    """The part of an image path below its class folder."""
    relative = Path(path).relative_to(root)
    return Path(*relative.parts[1:])


def group_id(path: str, root: Path, rule: str) -> str:
    """The person or session id of one image under a folder dataset's root; see the module docstring."""
    relative = _relative(path, root)
    if rule == "subfolder":
        if len(relative.parts) < 2:
            raise ValueError(f"{path}: --group-by subfolder needs <label>/<person>/<image>, "
                             "but this image sits directly in its class folder")
        return relative.parts[0]
    if rule == "prefix":
        match = _PREFIX.match(relative.name)
        if match is None:
            raise ValueError(f"{path}: --group-by prefix needs a file name like <person>_<...>")
        return match.group(1)
    match = re.search(rule, relative.as_posix())
    if match is None or not match.groups():
        raise ValueError(f"{path}: the group pattern {rule!r} does not match {relative.as_posix()!r} "
                         "with a capturing group")
    return match.group(1)


def group_ids(files: Sequence[str], root: Path, rule: str) -> list[str]:
    return [group_id(path, Path(root), rule) for path in files]


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> Split:
    """A seeded split with each class's share kept on both sides (splits.stratified_holdout:
    at least one face of every class on each side, however small the folder)."""
    check_fraction(fraction)
    counts = np.bincount(y)
    if len(y) < 2 or counts[counts > 0].min() < 2:
        raise ValueError("every class needs at least 2 images to hold some out for validation; "
                         "add images or pass --val-data")
    train, val = stratified_holdout(y, fraction, seed)
    return Split(train, val,
                 f"seeded stratified split of the folder: {fraction:.0%} held out (seed {seed})")


def grouped_split(y: np.ndarray, groups: Sequence[str], fraction: float, seed: int) -> Split:
    """A seeded split in which no group (person, session) is on both sides, classes as even as
    the groups allow (scikit-learn's StratifiedGroupKFold; one fold of round(1/fraction))."""
    check_fraction(fraction)
    names = np.asarray(groups)
    folds = max(2, round(1 / fraction))
    distinct = len(set(names.tolist()))
    if distinct < 2:
        raise ValueError(f"a grouped split needs at least 2 people or sessions; found {distinct}")
    folds = min(folds, distinct)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    train, val = next(splitter.split(np.zeros(len(y)), y, names))
    held_out = sorted(set(names[val].tolist()))
    return Split(np.sort(train), np.sort(val),
                 f"seeded split grouped by person/session: {len(held_out)} of {distinct} groups "
                 f"held out ({', '.join(held_out)}; 1 of {folds} folds, seed {seed})")
