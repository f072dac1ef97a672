"""Assemble the model card from the training run record and the conversion's own facts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from emotion_device.model_card import ModelCard, sha256_of
from emotion_device.preprocess import CropSpec
from emotion_train.image_folder import LABEL_SOURCE as FOLDER_LABELS

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


AGAINST = {"ferplus": "FER+ majority labels", "fer2013": "FER2013's original labels",
           "folder": "labels from the folder names"}


def recall_limitation(metrics: dict) -> str:
    """Per-class recall of the int8 model, weakest first: the numbers behind "it varies"."""
    block = metrics.get("test") or metrics["val"]
    recall = block["int8"]["per_class_recall"]
    listed = ", ".join(f"{label} {100 * value:.1f}%"
                       for label, value in sorted(recall.items(), key=lambda item: item[1]))
    against = AGAINST.get(label_family(block["labels"]), f"{block['labels']} labels")
    on = block["split"] if "test" in metrics else f"the validation faces ({block['split']})"
    return (f"Per-class recall of the int8 model on {on} ({against}, "
            f"n={block['int8']['n']}), weakest first: {listed}. Treat the weak classes' labels as hints.")


def finetune_limitations(run: dict) -> list[str]:
    """The limitations of a model fine-tuned on a user's folder: what its head actually learnt
    from, and why its validation score flatters it."""
    train, val = run["data"]["train"], run["data"]["val"]
    counts = ", ".join(f"{label} {n}" for label, n in train["class_counts"].items())
    trained_on = (
        f"Fine-tuned on {train['faces']} faces from {train['file']} ({counts}; "
        f"{train.get('split', 'the whole folder')}), "
        f"labelled by their folder names, starting from {run['base_model']['file']}, whose backbone "
        "was trained on FER2013 (48x48 grayscale web images, mostly frontal adult faces, skewed and "
        "undocumented demographics). It knows the people and conditions of those photos; expect "
        "lower accuracy on other people, low light, occlusion, strong head rotation and unusual "
        "camera angles, and see metrics.test for a held-out score where there is one."
    )
    per_face = 100 / max(1, val["faces"])
    selected = (
        f"The {val['faces']} validation faces ({val['split']}) also chose the epoch, so their "
        f"accuracy (metrics.val) is optimistic, and each face moves it by {per_face:.1f} points. "
        "Score people the model has never seen with `emotion-train evaluate --data DIR "
        "--write-card`, which records metrics.test in this card."
    )
    return [trained_on, *LIMITATIONS[1:-1], selected]


def _finetune_data(run: dict) -> dict:
    """Where a fine-tuned model's photos are and how they were split, as the card states it."""
    train, val = run["data"]["train"], run["data"]["val"]
    return {
        "data": train["file"],
        "data_absolute": train.get("absolute_path"),
        "train_split": train.get("split"),
        "validation": f"{val['file']} ({val['split']}), {val['faces']} faces",
        "validation_class_counts": val.get("class_counts"),
        "label_source": FOLDER_LABELS,
        "head_init": run.get("head_init"),
    }


def build_card(name: str, tflite_path: Path, run: dict, crop: CropSpec, architecture: dict,
               conversion: dict) -> ModelCard:
    config = run["config"]
    finetuned = bool(run.get("base_model"))
    card = ModelCard(
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
            "prior_correction": run.get("prior_correction"),
            "versions": run["versions"],
            "conversion": conversion,
        },
        intended_use=INTENDED_USE,
        limitations=finetune_limitations(run) if finetuned else [*LIMITATIONS, selection_limitation(run)],
    )
    if finetuned:
        card.training.update(_finetune_data(run))
    return card
