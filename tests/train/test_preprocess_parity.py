"""Training and the device turn the same face crop into the same tensor."""

import cv2
import numpy as np

from emotion_device.face import Box
from emotion_device.preprocess import CropSpec, face_input
from emotion_train.fer2013 import load_fer2013_npz
from emotion_train.training import input_pipeline


def test_training_batches_equal_device_inputs_for_the_same_crops(data_dir):
    val = load_fer2013_npz(data_dir / "fer2013_val.npz", "emotion5", "ferplus-soft").subset(np.arange(16))
    batch_x, batch_targets = next(iter(input_pipeline(val, 16, seed=0, weights=None, augmenter=None)))
    np.testing.assert_array_equal(batch_targets.numpy(), val.targets)

    spec = CropSpec(margin=0.0, square=True)
    for face, trained in zip(val.x, batch_x.numpy()):
        # The face as a camera would deliver it: colour, inside a larger frame, at 3x size.
        frame = np.full((300, 400), 128, np.uint8)
        frame[40:184, 100:244] = cv2.resize(face, (144, 144), interpolation=cv2.INTER_NEAREST)
        device = face_input(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), Box(100, 40, 144, 144), spec)
        assert device.shape == trained.shape == (48, 48, 1)
        np.testing.assert_array_equal(device, trained)


def test_haar_boxes_frame_fer2013_faces_like_the_training_crops(data_dir):
    """The bundled card's crop margin (0) is right only while this measurement holds."""
    from emotion_train.crop_calibration import measure_haar_framing

    faces = np.load(data_dir / "fer2013_val.npz")["x"][:300]
    framing = measure_haar_framing(faces)
    assert framing.detected > 0.6 * framing.faces
    assert 0.95 < framing.crop_to_box_median < 1.1
    assert framing.margin < 0.05
    assert max(map(abs, framing.centre_offset)) < 0.03


def test_training_batches_are_shuffled_even_without_augmentation(data_dir):
    """A folder dataset arrives sorted by class; single-class batches would wreck BatchNorm."""
    val = load_fer2013_npz(data_dir / "fer2013_val.npz", "emotion5", "ferplus-soft")
    by_class = val.subset(np.argsort(val.y, kind="stable")[:512])
    batch = next(iter(input_pipeline(by_class, 64, seed=0, weights=None, augmenter=None, shuffle=True)))
    assert len(np.unique(batch[1].numpy().argmax(1))) > 1
    ordered = next(iter(input_pipeline(by_class, 64, seed=0, weights=None, augmenter=None)))
    np.testing.assert_array_equal(ordered[1].numpy(), by_class.targets[:64])  # validation keeps order
