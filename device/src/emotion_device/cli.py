"""`emotion-device`: classify faces in photos, or run the camera-to-log daemon."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from emotion_device import __version__
from emotion_device.detectors import DETECTORS, create_detector
from emotion_device.images import ImageReadError, read_image
from emotion_device.model_card import ModelCardError
from emotion_device.models import DEFAULT_MODEL, resolve_model
from emotion_device.runtime import RuntimeUnavailable
from emotion_device.sources import SourceError

log = logging.getLogger("emotion_device")

EXAMPLES = """\
examples:
  emotion-device classify photo.jpg
  emotion-device classify photo.jpg --annotate photo.annotated.png
  emotion-device classify shots/*.jpg --annotate annotated/
  emotion-device run --source 0                      # first camera, JSON lines on stdout
  emotion-device run --source clip.mp4 --log faces.jsonl
  emotion-device run --source photos/ --max-frames 100
"""

# Problems a user can fix: reported in one line and exit code 2, without a traceback.
USER_ERRORS = (ModelCardError, ImageReadError, SourceError, RuntimeUnavailable,
               FileNotFoundError, ValueError)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="bundled model name or path to a .tflite with its .json card "
                        f"(default: {DEFAULT_MODEL})")
    p.add_argument("--detector", default="haar", choices=sorted(DETECTORS))
    p.add_argument("--detect-width", type=int, default=640,
                   help="downscale frames to this width for detection (0: full size)")
    p.add_argument("--threads", type=int, default=1, help="interpreter threads")


def _build_pipeline(args: argparse.Namespace):
    from emotion_device.classifier import EmotionClassifier
    from emotion_device.pipeline import FacePipeline

    classifier = EmotionClassifier(resolve_model(args.model), num_threads=args.threads)
    log.info("model %s (%s) on %s %s", classifier.card.name, ", ".join(classifier.labels),
             classifier.runtime.name, classifier.runtime.version)
    return FacePipeline(create_detector(args.detector, detect_width=args.detect_width), classifier)


def _annotation_path(target: Path, image: Path, several: bool) -> Path:
    if several or target.is_dir():
        return target / f"{image.stem}.annotated.png"
    return target


def cmd_classify(args: argparse.Namespace) -> int:
    from emotion_device.annotate import write_annotated

    pipeline = _build_pipeline(args)
    several = len(args.images) > 1
    failures = 0
    for name in args.images:
        try:
            image = read_image(name)
        except ImageReadError as exc:
            print(f"emotion-device: error: {exc}", file=sys.stderr)
            failures += 1
            continue
        faces = pipeline.process(image)
        for index, face in enumerate(faces):
            print(json.dumps({"image": name, "face_index": index, **face.to_dict()}))
        if not faces:
            log.info("%s: no face found", name)
        if args.annotate:
            out = write_annotated(_annotation_path(Path(args.annotate), Path(name), several), image, faces)
            log.info("annotated image written to %s", out)
    return 1 if failures else 0


def cmd_run(args: argparse.Namespace) -> int:
    from emotion_device.daemon import Daemon
    from emotion_device.sinks import JsonLinesSink
    from emotion_device.sources import open_source

    pipeline = _build_pipeline(args)
    source = open_source(args.source, loop=args.loop)
    daemon = Daemon(source, pipeline, [JsonLinesSink(args.log)], max_frames=args.max_frames)
    daemon.run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emotion-device", description=__doc__, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("classify", help="detect and classify the faces in image files",
                       description="Prints one JSON object per face: image, box [x,y,w,h], "
                                   "label, confidence and the score of every label.")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--annotate", metavar="OUT",
                   help="write the image with boxes and labels (a folder for several images)")
    _add_common(p)
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("run", help="run the daemon loop over a camera, video, or images",
                       description="Writes one JSON line per classified face until the source "
                                   "ends, --max-frames is reached, or SIGINT/SIGTERM arrives.")
    p.add_argument("--source", required=True,
                   help="camera index or /dev/videoN, video file, RTSP/HTTP URL, image or folder")
    p.add_argument("--log", metavar="FILE", help="append JSON lines to FILE instead of stdout")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    p.add_argument("--loop", action="store_true", help="repeat an image folder forever")
    _add_common(p)
    p.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        print(f"emotion-device: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
