"""One TOML file holds every option; it is validated completely before anything starts.

Each section is an Options dataclass (emotion_device.options), most of them owned by the
module they configure (a detector's options live beside the detector, the broker's in
mqtt_client), so adding a back-end adds one class and one key here. Every section checks its
own types and limits in the same way; this module only walks the TOML tables, refuses unknown
keys (with a suggestion for likely typos) and names the file and the dotted key in each error.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emotion_device.detectors import DETECTORS
from emotion_device.detectors.blazeface import BlazeFaceOptions
from emotion_device.detectors.haar import HaarOptions
from emotion_device.errors import UserError
from emotion_device.mqtt_client import ID_PATTERN, MqttConfig, default_device_id
from emotion_device.options import OptionError, Options, field_types, option
from emotion_device.smoothing import SmoothingOptions
from emotion_device.sources.base import parse_start_time
from emotion_device.tracking import TrackerOptions
from emotion_device.tta import TTA_MODES


class ConfigError(UserError, ValueError):
    """The configuration is invalid; the message names the file and the key."""


@dataclass
class DeviceSection(Options):
    id: str = field(default_factory=default_device_id)


@dataclass
class SourceSection(Options):
    uri: str = "0"  # camera index, /dev/videoN, "picamera2", video file, URL, image or folder
    width: int = option(640, gt=0)  # capture size (picamera2: the main stream, where crops come from)
    height: int = option(480, gt=0)
    lores_width: int = option(320, gt=0)  # picamera2's detection stream; same aspect ratio as the main one
    max_fps: float = option(0.0, ge=0)  # 0: as fast as the source delivers
    loop: bool = False  # repeat an image folder or video file
    reopen_max_delay: float = option(30.0, gt=0)  # backoff cap when a camera or stream fails
    camera_num: int = option(0, ge=0)  # picamera2's camera (a Pi 5 has two connectors)
    # A video file's records carry its media time: this start (seconds since the epoch, or an
    # ISO 8601 date-time, UTC unless it names a zone) plus the frame's position; "" counts from 0.
    start_time: str = ""

    def relations(self) -> Iterable[tuple[str, bool, str]]:
        try:
            parse_start_time(self.start_time)
            ok = True
        except ValueError:
            ok = False
        return [("start_time", ok, '"", seconds since the epoch, or an ISO 8601 date-time')]


@dataclass
class DetectorSection(Options):
    # The defaults are the fast path, chosen by measurement (README, "Detection"): BlazeFace
    # full-range found every face of the demo clip that Haar finds, and more, at ~1/40 the time.
    name: str = option("blazeface", choices=DETECTORS)
    every_n: int = option(3, ge=1)  # detect every N frames; frames in between wait for the next detection
    haar: HaarOptions = field(default_factory=HaarOptions)
    blazeface: BlazeFaceOptions = field(default_factory=BlazeFaceOptions)

    def options(self) -> Any:
        return getattr(self, self.name)


@dataclass
class ModelSection(Options):
    name: str = option("emotion5", pattern=r".+", expected="a bundled model name or a .tflite path")
    threads: int = option(1, ge=1)
    # average each face's scores over test-time views: "flip" (2x the classifier time per face)
    # or "ten-crop" (10x); emotion_device.tta
    tta: str = option("off", choices=TTA_MODES)


@dataclass
class OutputSection(Options):
    jsonl: str = ""  # file to append JSON lines to; "-" for stdout; "" for none
    jsonl_max_bytes: int = 10_000_000  # 0: never rotate
    jsonl_backups: int = option(5, ge=0)
    publish_interval: float = option(1.0, ge=0)  # at most one message per face per this many seconds
    stats_interval: float = option(60.0, gt=0)
    summary_interval: float = option(60.0, gt=0)  # seconds per summary record (and state keep-alive)

    def relations(self) -> Iterable[tuple[str, bool, str]]:
        return [("jsonl_max_bytes", self.jsonl_max_bytes == 0 or self.jsonl_max_bytes >= MIN_ROTATE_BYTES,
                 f"0 (never rotate) or at least {MIN_ROTATE_BYTES}")]


MIN_ROTATE_BYTES = 4096

# Keys an older release read, and what replaced each: one clear line instead of a guess.
RENAMED = {"model.tta_flip": 'replaced by model.tta = "flip"'}


@dataclass
class PrivacySection(Options):
    debug_snapshots: bool = False  # the only switch that lets face images reach the disk
    snapshot_dir: str = "/var/lib/emotion-edge/snapshots"


@dataclass
class Config(Options):
    device: DeviceSection = field(default_factory=DeviceSection)
    source: SourceSection = field(default_factory=SourceSection)
    detector: DetectorSection = field(default_factory=DetectorSection)
    model: ModelSection = field(default_factory=ModelSection)
    tracking: TrackerOptions = field(default_factory=TrackerOptions)
    smoothing: SmoothingOptions = field(default_factory=SmoothingOptions)
    output: OutputSection = field(default_factory=OutputSection)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    privacy: PrivacySection = field(default_factory=PrivacySection)

    def relations(self) -> Iterable[tuple[str, bool, str]]:
        expire = self.mqtt.expire_after
        return [("device.id", not self.mqtt.enabled or bool(re.fullmatch(ID_PATTERN, self.device.id)),
                 "letters, digits, _ and - only (it is a level of the MQTT topics)"),
                # the state is re-sent with each summary; HA must not expire it in between
                ("mqtt.expire_after", not expire or expire > self.output.summary_interval,
                 f"0 (never) or more than output.summary_interval ({self.output.summary_interval:g} s)")]


def _build(cls: type, table: Any, key: str, source: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{key}] must be a table, got {type(table).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for name, value in table.items():
        dotted = f"{key}.{name}" if key else name
        if name not in fields:
            close = difflib.get_close_matches(name, list(fields), n=1)
            hint = f" (did you mean {key + '.' if key else ''}{close[0]}?)" if close else ""
            hint = f" ({RENAMED[dotted]})" if dotted in RENAMED else hint
            raise ConfigError(f"{source}: unknown key '{dotted}'{hint}")
        nested = _section_type(cls, name)
        values[name] = _build(nested, value, dotted, source) if nested is not None else value
    try:
        return cls(**values)
    except OptionError as exc:
        raise ConfigError(f"{source}: {exc.within(key)}") from None


def _section_type(cls: type, name: str) -> type | None:
    """The Options class of a nested section, or None for a plain value."""
    tp = field_types(cls)[name]
    return tp if isinstance(tp, type) and issubclass(tp, Options) else None


def parse_config(data: dict, source: str = "<config>") -> Config:
    """Build and check a Config from TOML's tables (or Config.to_dict()'s)."""
    return _build(Config, data, "", source)


def load_config(path: str | Path | None) -> Config:
    """Read and validate a TOML file; None gives the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, str(path))


def check_model(config: Config, source: str) -> Path:
    """The model named in [model] exists and its card describes it (what `run` loads first)."""
    from emotion_device.model_card import load_verified_card
    from emotion_device.models import resolve_model

    try:
        path = resolve_model(config.model.name)
        load_verified_card(path)
    except UserError as exc:
        raise ConfigError(f"{source}: 'model.name': {exc}") from None
    return path
