"""The model card: the single description of a bundled model.

The device reads labels, input shape and face-crop rules from the card and never hard-codes
them, and it refuses a .tflite whose sha256 differs from the card's, so a model can never be
silently swapped or truncated on disk.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from emotion_device.errors import UserError
from emotion_device.labels import VOCABULARY
from emotion_device.preprocess import INPUT_SIZE, CropSpec

CARD_VERSION = 1


class ModelCardError(UserError, ValueError):
    """A card is missing, malformed, or does not describe the model file beside it."""


@dataclass
class InputSpec:
    height: int = INPUT_SIZE
    width: int = INPUT_SIZE
    channels: int = 1
    color: str = "gray"
    pixel_range: tuple[int, int] = (0, 255)


@dataclass
class ModelCard:
    name: str
    labels: list[str]
    sha256: str
    created: str
    input: InputSpec = field(default_factory=InputSpec)
    face_crop: CropSpec = field(default_factory=CropSpec)
    quantization: str = "int8"
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    architecture: dict = field(default_factory=dict)
    intended_use: str = ""
    limitations: list[str] = field(default_factory=list)
    card_version: int = CARD_VERSION

    def to_dict(self) -> dict:
        data = asdict(self)
        data["input"]["pixel_range"] = list(self.input.pixel_range)
        data["face_crop"] = self.face_crop.to_dict()
        return data

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, data: dict, source: str = "<card>") -> ModelCard:
        for key in ("name", "labels", "sha256", "created"):
            if key not in data:
                raise ModelCardError(f"{source}: model card lacks the required field {key!r}")
        unknown = [label for label in data["labels"] if label not in VOCABULARY]
        if unknown:
            raise ModelCardError(f"{source}: labels {unknown} are not in the vocabulary")
        spec = dict(data.get("input", {}))
        if "pixel_range" in spec:
            spec["pixel_range"] = tuple(spec["pixel_range"])
        return cls(
            name=data["name"],
            labels=list(data["labels"]),
            sha256=data["sha256"],
            created=data["created"],
            input=InputSpec(**spec),
            face_crop=CropSpec.from_dict(data.get("face_crop", {})),
            quantization=data.get("quantization", "int8"),
            training=data.get("training", {}),
            metrics=data.get("metrics", {}),
            architecture=data.get("architecture", {}),
            intended_use=data.get("intended_use", ""),
            limitations=list(data.get("limitations", [])),
            card_version=int(data.get("card_version", CARD_VERSION)),
        )

    @classmethod
    def load(cls, path: Path) -> ModelCard:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelCardError(f"model card {path} not found (every .tflite needs its .json)") from None
        except json.JSONDecodeError as exc:
            raise ModelCardError(f"model card {path} is not valid JSON: {exc}") from None
        return cls.from_dict(data, source=str(path))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def card_path_for(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".json")


def load_verified_card(model_path: Path) -> ModelCard:
    """Load the card beside `model_path` and check that it describes exactly this file."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelCardError(f"model file {model_path} not found")
    card = ModelCard.load(card_path_for(model_path))
    actual = sha256_of(model_path)
    if actual != card.sha256:
        raise ModelCardError(
            f"{model_path} does not match its card: sha256 is {actual[:16]}..., the card says "
            f"{card.sha256[:16]}... The file is corrupt or was replaced; refusing to load it."
        )
    return card
