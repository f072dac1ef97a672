"""The label vocabulary and the named label sets every model card refers to.

Cards store label *words*, never indices, so that a model trained on any source can be read
by the device without knowing where its classes came from.
"""

from __future__ import annotations

VOCABULARY: tuple[str, ...] = (
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "contempt",
)

LABEL_SETS: dict[str, tuple[str, ...]] = {
    # The original study's five classes, in its order. The default.
    "emotion5": ("angry", "neutral", "happy", "sad", "surprise"),
    # FER2013's seven, in FER2013's index order (y = 0..6).
    "fer7": ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
    # FER+'s eight emotions, in FER+'s vote-column order.
    "ferplus8": ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt"),
}

DEFAULT_LABEL_SET = "emotion5"

# Names used by datasets and by the original study, mapped to the vocabulary.
ALIASES: dict[str, str] = {
    "anger": "angry",
    "mad": "angry",
    "joy": "happy",
    "happiness": "happy",
    "sorrow": "sad",
    "sadness": "sad",
    "casual": "neutral",
    "calm": "neutral",
    "surprised": "surprise",
    "fearful": "fear",
    "scared": "fear",
    "disgusted": "disgust",
}


def canonical_label(name: str) -> str:
    """Map a dataset's own class name (any case) onto the vocabulary, or raise ValueError."""
    word = name.strip().lower()
    word = ALIASES.get(word, word)
    if word not in VOCABULARY:
        raise ValueError(f"unknown emotion label {name!r}; known: {', '.join(VOCABULARY)}")
    return word


def label_set(name: str) -> tuple[str, ...]:
    try:
        return LABEL_SETS[name]
    except KeyError:
        raise ValueError(f"unknown label set {name!r}; known: {', '.join(LABEL_SETS)}") from None
