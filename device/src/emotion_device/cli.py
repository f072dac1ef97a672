"""`emotion-device`: classify faces in photos, or run the camera-to-log daemon."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path

from emotion_device import __version__
from emotion_device.config import Config, ConfigError, DetectorSection, check_model, load_config, parse_config
from emotion_device.detectors import DETECTORS
from emotion_device.errors import UserError
from emotion_device.images import ImageReadError, read_image
from emotion_device.models import DEFAULT_MODEL
from emotion_device.sources import SourceError
from emotion_device.tta import TTA_MODES

log = logging.getLogger("emotion_device")

EXAMPLES = """\
examples:
  emotion-device classify photo.jpg
  emotion-device classify photo.jpg --annotate photo.annotated.png
  emotion-device classify shots/*.jpg --annotate annotated/
  emotion-device run --source 0                      # first camera, JSON lines on stdout
  emotion-device run --source clip.mp4 --log faces.jsonl
  emotion-device run --source photos/ --max-frames 100
  emotion-device run --config /etc/emotion-edge/config.toml
  emotion-device check-config /etc/emotion-edge/config.toml
"""

# Exit statuses: 0 fine; 1 some of several images unreadable, a doctor check or a bench
# comparison failed; 2 a problem the user can fix (UserError), reported in one line.
EXIT_USER_ERROR = 2


def _positive(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="bundled model name or path to a .tflite with its .json card "
                                   f"(default: {DEFAULT_MODEL})")
    p.add_argument("--detector", choices=sorted(DETECTORS),
                   help=f"face detector (default: {DetectorSection.name})")
    p.add_argument("--threads", type=_at_least_one, help="interpreter threads (default: 1)")
    p.add_argument("--tta", choices=TTA_MODES,
                   help="average each face's scores over test-time views: flip (its mirror image, "
                        "2x the classifier time) or ten-crop (corner and centre crops and their "
                        "mirrors, 10x) (default: the config's model.tta, off)")


def _apply_overrides(config: Config, args: argparse.Namespace) -> Config:
    """CLI flags win over the config file."""
    overrides = {
        ("model", "name"): args.model, ("model", "threads"): args.threads,
        ("model", "tta"): args.tta,
        ("detector", "name"): args.detector,
        ("source", "uri"): getattr(args, "source", None),
        ("device", "id"): getattr(args, "device_id", None),
        ("output", "jsonl"): getattr(args, "log", None),
        ("mqtt", "host"): getattr(args, "mqtt_host", None),
        ("mqtt", "port"): getattr(args, "mqtt_port", None),
        ("detector", "every_n"): getattr(args, "every_n", None),
        ("source", "start_time"): getattr(args, "start_time", None),
    }
    for (section, key), value in overrides.items():
        if value is not None:
            setattr(getattr(config, section), key, value)
    if getattr(args, "loop", False):
        config.source.loop = True
    return parse_config(dataclasses.asdict(config), "command line")


def _annotation_path(target: Path, image: str, several: bool) -> Path:
    """Where --annotate writes `image`'s picture: into the folder when several images are
    given or OUT is a folder, else OUT itself (which must have an image extension)."""
    from emotion_device.images import IMAGE_SUFFIXES

    if several or target.is_dir():
        if target.exists() and not target.is_dir():
            raise UserError(f"--annotate {target}: several images need a folder, not a file")
        return target / f"{Path(image).stem}.annotated.png"
    if target.suffix.lower() not in IMAGE_SUFFIXES:
        raise UserError(f"--annotate {target}: unknown image extension {target.suffix or '(none)'!r}; "
                        f"use one of {', '.join(sorted(IMAGE_SUFFIXES))}, or an existing folder")
    return target


def cmd_classify(args: argparse.Namespace) -> int:
    from emotion_device.annotate import write_annotated
    from emotion_device.assemble import build_pipeline

    several = len(args.images) > 1
    if args.annotate:  # a wrong OUT is known before any image is read
        _annotation_path(Path(args.annotate), args.images[0], several)
    pipeline = build_pipeline(_apply_overrides(Config(), args))
    failures = 0
    for name in args.images:
        try:
            image = read_image(name)
        except ImageReadError as exc:
            if not several:
                raise
            print(f"emotion-device: error: {exc}", file=sys.stderr)
            failures += 1
            continue
        faces = pipeline.process(image)
        for index, face in enumerate(faces):
            print(json.dumps({"image": name, "face_index": index, **face.to_dict()}), flush=True)
        if not faces:
            log.info("%s: no face found", name)
        if args.annotate:
            out = _annotation_path(Path(args.annotate), name, several)
            log.info("annotated image written to %s", write_annotated(out, image, faces))
    if failures == len(args.images):
        return EXIT_USER_ERROR
    return 1 if failures else 0


def cmd_run(args: argparse.Namespace) -> int:
    from emotion_device.assemble import build_daemon

    config = load_config(args.config)
    if args.config is None and args.log is None:
        config.output.jsonl = "-"  # without a config, JSON lines go to stdout
    if args.source is None and args.config is None:
        raise ConfigError("run needs --source or a --config with [source] uri")
    config = _apply_overrides(config, args)
    check_model(config, args.config or "command line")  # the same refusal as check-config's
    daemon = build_daemon(config, max_frames=args.max_frames, annotate_video=args.annotate_video)
    stats = daemon.run()
    if stats.frames == 0 and daemon.stop_reason == "end of source":
        raise SourceError(f"source {config.source.uri}: no frame could be read (see the log above)")
    return 0


def cmd_summarize(args: argparse.Namespace) -> int:
    from emotion_device import summarize

    summaries, unreadable = summarize.read_summaries(args.logs)
    if unreadable:
        log.warning("skipped %d line(s) that are not JSON (a torn last line?)", unreadable)
    if not summaries:
        raise UserError(f"no summary records in {', '.join(map(str, args.logs))} (the daemon writes "
                        "them every output.summary_interval since schema 2)")
    buckets, labels = summarize.bucketize(summaries, args.per)
    table = summarize.rows(buckets, labels)
    print(json.dumps(table, indent=2) if args.json else summarize.format_table(table))
    if args.csv:
        summarize.write_csv(table, args.csv)
        log.info("CSV written to %s", args.csv)
    if args.plot:
        summarize.write_timeline(buckets, labels, args.plot, f"emotion-edge, per {args.per}")
        log.info("timeline written to %s", args.plot)
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    config = load_config(args.file)
    check_model(config, args.file)
    if args.json:
        print(json.dumps(dataclasses.asdict(config), indent=2))
    else:
        print(f"{args.file}: OK")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from emotion_device.doctor import Doctor, format_table

    config = _apply_overrides(load_config(args.config), args)
    results = Doctor(config).run()
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(format_table(results))
    return 0 if all(r.ok for r in results) else 1


def cmd_bench(args: argparse.Namespace) -> int:
    from emotion_device.bench.model_latency import LatencyOptions
    from emotion_device.bench.report import compare, format_tables, save
    from emotion_device.bench.run import BenchOptions, run_bench

    options = BenchOptions(
        models=args.models, photo=args.photo, video=args.video, float_dir=args.float_dir,
        peer=args.peer, demo=args.demo, faces=args.faces, frames=args.frames, pipeline=not args.no_pipeline,
        latency=LatencyOptions(invokes=args.invokes, threads=tuple(args.threads), batch=args.batch))
    result = run_bench(options)
    print(json.dumps(result, indent=2) if args.json else format_tables(result))
    if args.save:
        log.info("results saved to %s", save(result, Path(args.save)))
    if args.compare:
        regressions = compare(result, json.loads(Path(args.compare).read_text()), args.tolerance)
        for line in regressions:
            print(f"REGRESSION {line}", file=sys.stderr)
        return 1 if regressions else 0
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
    _add_model_flags(p)
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("run", help="run the daemon over a camera, video, stream or images",
                       description="Detects, tracks, classifies and smooths faces and writes them to "
                                   "the configured sinks until the source ends, --max-frames is "
                                   "reached, or SIGINT/SIGTERM arrives (SIGHUP reopens log files).")
    p.add_argument("--config", metavar="FILE", help="TOML config; the flags below override it")
    p.add_argument("--source", help="camera index or /dev/videoN, picamera2, video file, "
                                    "RTSP/HTTP URL, image or folder")
    p.add_argument("--device-id", help="device id in MQTT topics (default: host name)")
    p.add_argument("--log", metavar="FILE", help="append JSON lines to FILE ('-': stdout)")
    p.add_argument("--mqtt-host", help="publish to this MQTT broker (the password comes from the "
                                       "config's mqtt.password_file or mqtt.password_env)")
    p.add_argument("--mqtt-port", type=int)
    p.add_argument("--max-frames", type=_positive, metavar="N", help="stop after N frames")
    p.add_argument("--every-n", type=_at_least_one, metavar="N", help="run the detector every N frames")
    p.add_argument("--loop", action="store_true", help="repeat an image folder or video file")
    p.add_argument("--annotate-video", metavar="OUT",
                   help="also write every frame with its faces' boxes and smoothed labels to OUT "
                        "(.mp4, .avi, or .gif with emotion-device[plots]); this writes faces to disk")
    p.add_argument("--start-time", metavar="WHEN",
                   help="a video file's start, ISO 8601 (2026-12-01T09:00:00+01:00) or seconds since "
                        "the epoch: its records carry this plus the media position (default: 0)")
    _add_model_flags(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("summarize", help="per-minute or per-hour table (and CSV, plot) from JSON-lines logs",
                       description="Adds up the daemon's summary records (face-seconds per label, faces "
                                   "in view, faces seen) per minute or hour and device. Each LOG's rotated "
                                   "copies (LOG.1, LOG.2, ...) are read too, oldest first.",
                       epilog="examples:\n  emotion-device summarize /var/log/emotion-edge/faces.jsonl\n"
                              "  emotion-device summarize faces.jsonl --per hour --csv day.csv "
                              "--plot day.png",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("logs", nargs="+", metavar="LOG", type=Path)
    p.add_argument("--per", choices=("minute", "hour"), default="minute",
                   help="bucket size (default: minute)")
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write the table as CSV")
    p.add_argument("--plot", type=Path, metavar="PNG",
                   help="also write a timeline: faces in view and each label's share "
                        "(needs emotion-device[plots], i.e. matplotlib)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    p.set_defaults(func=cmd_summarize)

    p = sub.add_parser("check-config", help="validate a config file without starting anything")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the effective config as JSON")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("doctor", help="check runtime, model, source, detector and broker",
                       description="Prints a pass/fail table; exit status 1 if any check fails.")
    p.add_argument("--config", metavar="FILE", help="TOML config to check")
    p.add_argument("--source", help="source to check instead of the config's")
    p.add_argument("--mqtt-host", help="broker to check instead of the config's")
    p.add_argument("--mqtt-port", type=int)
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    _add_model_flags(p)
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("bench", help="latency per face, pipeline fps, memory and start-up time",
                       description="Times the bundled models (int8, and float32 when its twin is "
                                   "present), a peer model, and the whole pipeline on a clip made "
                                   "from a real photo. Prints a table, or JSON with --json.")
    p.add_argument("--models", nargs="+", default=[DEFAULT_MODEL], metavar="NAME")
    p.add_argument("--photo", type=Path, help="a real photo with one face (clip and first-result time)")
    p.add_argument("--video", type=Path, help="time the pipeline on this video instead")
    p.add_argument("--float-dir", type=Path, help="folder with <name>.float.tflite twins")
    p.add_argument("--peer", type=Path, help="fer's emotion_model_quantized.tflite, for the ratio")
    p.add_argument("--demo", type=Path, metavar="DIR",
                   help="the demo photos (../shared/demo): with --peer, the defaults and fer's whole "
                        "pipeline on a clip of them; with --faces, the detection check")
    p.add_argument("--faces", type=Path, metavar="NPZ",
                   help="FER2013 Training (fer2013_train.npz): faces the detection check pastes into the "
                        "demo photos to measure each detector's recall and precision")
    p.add_argument("--invokes", type=int, default=1000, help="timed invokes per latency row")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch", type=int, default=4, help="also time a batch of this many faces")
    p.add_argument("--frames", type=int, default=300, help="frames per pipeline setting")
    p.add_argument("--no-pipeline", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--save", metavar="DIR", help="write <DIR>/<machine>.json")
    p.add_argument("--compare", metavar="FILE", help="exit 1 on regressions against a saved run")
    p.add_argument("--tolerance", type=float, default=0.15, help="allowed slowdown (fraction)")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"emotion-device: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining
        # again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
