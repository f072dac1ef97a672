"""Assemble the model card from the training run record and the conversion's own facts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from emotion_device.model_card import ModelCard, sha256_of
from emotion_device.preprocess import CropSpec

INTENDED_USE = (
    "Estimating the facial expression of people who know they are in view of the camera, for "
    "personal projects, home automation and research: a coarse, aggregate signal of how faces "
    "look. Not for workplaces or education institutions: the EU AI Act, Article 5(1)(f), "
    "prohibits emotion recognition there except for medical or safety reasons."
)
LIMITATIONS = [
    "Trained on FER2013: 48x48 grayscale web images, posed and spontaneous expressions, mostly "
    "frontal adult faces, with skewed and undocumented demographics (age, skin tone, gender, "
    "culture). Expect lower accuracy on people and conditions unlike those web photos: low "
    "light, occlusion, strong head rotation, unusual camera angles.",
    "It measures a facial expression, never a felt emotion: the label says how a face looks, not "
    "how a person feels. Do not use it to judge people (hiring, policing, grading, medical or "
    "insurance decisions) or to watch anyone without their knowledge.",
    "Where not to deploy: the EU AI Act, Article 5(1)(f), prohibits emotion recognition systems "
    "in workplaces and education institutions, except for medical or safety reasons.",
    "Faces the detector misses are never classified. On the six photos of ../shared/demo at the "
    "device's defaults, the Haar cascade finds both babies but misses the tilted face in "
    "surprised.jpeg; BlazeFace (short range) finds that face but none of the five adults in "
    "group.jpeg. Children are rare in FER2013: accuracy on children's faces is unmeasured beyond "
    "those two photos. Profile faces are outside both the frontal Haar cascade and FER2013 and "
    "are not supported.",
    "Privacy by design: by default only labels, scores, face boxes and counts leave the device; no "
    "face image is written unless debug snapshots are turned on, and no identity is inferred "
    "(face_id is a short-lived track number, not a person).",
    "FER2013 and FER+ labels are noisy: treat a single label as a hint. 279 FER2013 PublicTest "
    "images also occur in its training split.",
]


def selection_limitation(run: dict) -> str:
    """How the reported model was chosen, in the words of its run record."""
    if run.get("selection"):
        return (f"Model selection: {run['selection']}; FER2013 PublicTest was scored once, on the "
                f"selected model, and chose nothing.")
    return "Model selection: the validation set named in training.validation picked the epoch."


def label_family(labels: str) -> str:
    """A card's `metrics.*.labels` -> "fer2013" or "ferplus". FER+ runs (soft or majority
    targets) are all scored against the FER+ ten-annotator majority."""
    return "ferplus" if labels.startswith("ferplus") else labels


def recall_limitation(metrics: dict) -> str:
    """Per-class recall of the int8 model, weakest first: the numbers behind "it varies"."""
    block = metrics.get("test") or metrics["val"]
    recall = block["int8"]["per_class_recall"]
    listed = ", ".join(f"{label} {100 * value:.1f}%"
                       for label, value in sorted(recall.items(), key=lambda item: item[1]))
    family = label_family(block["labels"])
    against = {"ferplus": "FER+ majority labels", "fer2013": "FER2013's original labels"}.get(
        family, f"{block['labels']} labels")
    return (f"Per-class recall of the int8 model on {block['split']} ({against}, "
            f"n={block['int8']['n']}), weakest first: {listed}. Treat the weak classes' labels as hints.")


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
            "validation": (f"{Path(run['data']['val']['file']).name} ({run['data']['val']['split']})"
                           if run["data"].get("val") else None),
            "split": run["data"].get("split"),
            "selection": run.get("selection"),
            "label_set": config["label_set"],
            "label_source": config["label_source"],
            "train_faces": run["data"]["train"]["faces"],
            "class_counts": run["data"]["train"]["class_counts"],
            "class_weight": config["class_weight"],
            "augment": config["augment"],
            "epochs": run["epochs_completed"],
            "seed": config["seed"],
            "command": run["command"],
            "train_seconds": run["train_seconds"],
            "train_pieces": run.get("train_pieces"),
            "base_model": run.get("base_model"),
            "init_from": run.get("init_from"),
            "versions": run["versions"],
            "conversion": conversion,
        },
        intended_use=INTENDED_USE,
        limitations=[*LIMITATIONS, selection_limitation(run)],
    )
