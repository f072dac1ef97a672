"""Assemble the model card from the training run record and the conversion's own facts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from emotion_device.model_card import ModelCard, sha256_of
from emotion_device.preprocess import CropSpec

INTENDED_USE = (
    "Estimating the facial expression of people who know they are in view of the camera, "
    "for personal projects, home automation and research: a coarse, aggregate signal."
)
LIMITATIONS = [
    "Trained on FER2013 web images (48x48 grayscale, mostly frontal, adults); expect lower "
    "accuracy on children, strong head rotation, low light, occlusion and camera angles "
    "unlike web photos.",
    "A facial expression is not an emotion: the label says how a face looks, not how a person "
    "feels. Do not use it to judge people (hiring, policing, grading, medical or insurance "
    "decisions) or to monitor anyone without their consent.",
    "FER2013 and FER+ labels are noisy; per-class accuracy differs widely (see metrics).",
    "Accuracy is measured on FER2013 PublicTest, which also guided model selection, so it is "
    "slightly optimistic; 279 PublicTest images also occur in the training split.",
]


def build_card(name: str, tflite_path: Path, run: dict, crop: CropSpec, architecture: dict,
               conversion: dict) -> ModelCard:
    config = run["config"]
    return ModelCard(
        name=name,
        labels=list(run["labels"]),
        sha256=sha256_of(tflite_path),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        face_crop=crop,
        quantization="int8",
        architecture=architecture,
        training={
            "data": Path(run["data"]["train"]["file"]).name,
            "validation": f"{Path(run['data']['val']['file']).name} ({run['data']['val']['split']})",
            "label_set": config["label_set"],
            "label_source": config["label_source"],
            "train_faces": run["data"]["train"]["faces"],
            "class_counts": run["data"]["train"]["class_counts"],
            "class_weight": config["class_weight"],
            "augment": config["augment"],
            "epochs": run["epochs_completed"],
            "seed": config["seed"],
            "command": run["command"],
            "train_seconds_last_session": run["train_seconds_this_session"],
            "base_model": run.get("base_model"),
            "versions": run["versions"],
            "conversion": conversion,
        },
        intended_use=INTENDED_USE,
        limitations=LIMITATIONS,
    )
