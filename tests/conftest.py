"""Shared test fixtures: where the real data and photos are, and how their absence is handled.

Tests that need ../shared skip with a reason on a developer machine without it, and fail
under CI (CI=true), where a silent skip would hide a broken checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODELS = REPO / "models"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(path: Path, what: str) -> Path:
    if path.exists():
        return path
    message = f"{what} not found at {path}"
    if in_ci():
        pytest.fail(f"{message} (required when CI=true)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("EMOTION_DATA", SHARED / "data"))
    require(path / "fer2013_val.npz", "FER2013 data (fer2013_val.npz)")
    return path


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return require(SHARED / "demo", "demo photos (../shared/demo)")


@pytest.fixture(scope="session")
def bundled_model() -> Path:
    return MODELS / "emotion5.tflite"
