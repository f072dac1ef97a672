"""A 20-minute 5 fps "day in a room" clip from ../shared/demo, for the README's timeline.

Each demo photo is in view for a few minutes, with an empty room (skimage's coffee cup) in
between; written as MJPEG AVI. Usage: python docs/timeline/make_clip.py DEMO_DIR OUT.avi
"""

import sys
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from emotion_device.images import letterbox, read_image

FPS = 5
SCENES = [("neutral.jpeg", 3), (None, 2), ("happy-baby.jpeg", 3), ("group.jpeg", 4), (None, 1),
          ("surprised.jpeg", 2), ("sad-baby.jpeg", 2), ("angry.jpg", 3)]  # (photo, minutes)


def main(demo: Path, out: Path) -> None:
    empty = letterbox(np.ascontiguousarray(skimage.data.coffee()[:, :, ::-1]), (640, 480))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
    for photo, minutes in SCENES:
        frame = empty if photo is None else letterbox(read_image(demo / photo), (640, 480))
        for _ in range(minutes * 60 * FPS):
            writer.write(frame)
    writer.release()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
