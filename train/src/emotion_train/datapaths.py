"""Where the FER2013 archives live: --data-dir, then $EMOTION_DATA, then ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

TRAIN_FILE = "fer2013_train.npz"
VAL_FILE = "fer2013_val.npz"  # FER2013 PublicTest: validation and model selection only


def data_dir(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get("EMOTION_DATA"):
        return Path(os.environ["EMOTION_DATA"])
    repo_root = Path(__file__).resolve().parents[3]
    return repo_root.parent / "shared" / "data"
