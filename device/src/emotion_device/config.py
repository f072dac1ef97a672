"""One TOML file holds every option; it is validated completely before anything starts.

Each section is a dataclass, most of them owned by the module they configure (a detector's
options live beside the detector), so adding a back-end adds one class and one key here.
An unknown key or a wrong type is an error that names the file and the dotted key, with a
suggestion for likely typos.
"""

from __future__ import annotations

import dataclasses
import difflib
import socket
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emotion_device.detectors.blazeface import BlazeFaceOptions
from emotion_device.detectors.haar import HaarOptions
from emotion_device.smoothing import SmoothingOptions
from emotion_device.tracking import TrackerOptions


class ConfigError(ValueError):
    """The configuration is invalid; the message names the file and the key."""


@dataclass
class DeviceSection:
    id: str = field(default_factory=lambda: socket.gethostname().split(".")[0])


@dataclass
class SourceSection:
    uri: str = "0"  # camera index, /dev/videoN, "picamera2", video file, URL, image or folder
    width: int = 640  # capture size (picamera2: the main stream, where crops come from)
    height: int = 480
    lores_width: int = 320  # picamera2's detection stream; same aspect ratio as the main one
    max_fps: float = 0.0  # 0: as fast as the source delivers
    loop: bool = False  # repeat an image folder or video file
    reopen_max_delay: float = 30.0  # backoff cap when a camera or stream fails


@dataclass
class DetectorSection:
    name: str = "haar"
    every_n: int = 1  # run the detector every N frames; the tracker follows faces in between
    haar: HaarOptions = field(default_factory=HaarOptions)
    blazeface: BlazeFaceOptions = field(default_factory=BlazeFaceOptions)

    def options(self):
        return getattr(self, self.name)


@dataclass
class ModelSection:
    name: str = "emotion5"  # bundled name or path to a .tflite beside its .json card
    threads: int = 1
    tta_flip: bool = False  # average each face with its mirror image: 2x classifier time


@dataclass
class OutputSection:
    jsonl: str = ""  # file to append JSON lines to; "-" for stdout; "" for none
    jsonl_max_bytes: int = 10_000_000
    jsonl_backups: int = 5
    publish_interval: float = 1.0  # at most one message per face per this many seconds
    stats_interval: float = 60.0


@dataclass
class MqttSection:
    """[mqtt]: the options a user sets; the sink's MqttConfig keeps its defaults for the rest.

    MQTT is on when `host` is set. The password never appears here nor on a command line:
    it comes from `password_file` (e.g. a systemd credential) or `password_env`.
    """

    host: str = ""
    port: int = 1883
    prefix: str = "emotion-edge"
    username: str = ""
    password_file: str = ""
    password_env: str = ""
    tls_ca_file: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    keepalive: int = 30
    spool_dir: str = "/var/lib/emotion-edge/spool"
    spool_max_bytes: int = 8 * 1024 * 1024
    discovery: bool = True
    discovery_prefix: str = "homeassistant"
    expire_after: int = 300

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    def sink_config(self, device_id: str, password: str | None = None):
        """The sink's MqttConfig; raises ValueError naming the offending option."""
        from emotion_device.sinks.mqtt import MqttConfig

        options = {k: v for k, v in dataclasses.asdict(self).items()
                   if k not in ("password_file", "password_env")}
        for key in ("username", "tls_ca_file", "tls_cert_file", "tls_key_file"):
            options[key] = options[key] or None
        return MqttConfig(**options, device_id=device_id, password=password)


@dataclass
class PrivacySection:
    debug_snapshots: bool = False  # the only switch that lets face images reach the disk
    snapshot_dir: str = "/var/lib/emotion-edge/snapshots"


@dataclass
class Config:
    device: DeviceSection = field(default_factory=DeviceSection)
    source: SourceSection = field(default_factory=SourceSection)
    detector: DetectorSection = field(default_factory=DetectorSection)
    model: ModelSection = field(default_factory=ModelSection)
    tracking: TrackerOptions = field(default_factory=TrackerOptions)
    smoothing: SmoothingOptions = field(default_factory=SmoothingOptions)
    output: OutputSection = field(default_factory=OutputSection)
    mqtt: MqttSection = field(default_factory=MqttSection)
    privacy: PrivacySection = field(default_factory=PrivacySection)


def _type_name(tp: Any) -> str:
    return " or ".join(t.__name__ for t in typing.get_args(tp)) if typing.get_args(tp) else tp.__name__


def _accepts(tp: Any, value: Any) -> bool:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return any(_accepts(t, value) for t in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def _build(cls: type, table: Any, key: str, source: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{key}] must be a table, got {type(table).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for name, value in table.items():
        dotted = f"{key}.{name}" if key else name
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean {key + '.' if key else ''}{close[0]}?)" if close else ""
            raise ConfigError(f"{source}: unknown key '{dotted}'{hint}")
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            values[name] = _build(tp, value, dotted, source)
        elif not _accepts(tp, value):
            raise ConfigError(f"{source}: '{dotted}' must be {_type_name(tp)}, got {value!r}")
        else:
            values[name] = float(value) if tp is float else value
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{source}: [{key}] {exc}") from None


def parse_config(data: dict, source: str = "<config>") -> Config:
    config = _build(Config, data, "", source)
    _check_ranges(config, source)
    return config


def load_config(path: str | Path | None) -> Config:
    """Read and validate a TOML file; None gives the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, str(path))


def _check_ranges(config: Config, source: str) -> None:
    from emotion_device.detectors import DETECTORS

    if config.detector.name not in DETECTORS:
        raise ConfigError(f"{source}: 'detector.name' must be one of {', '.join(DETECTORS)}, "
                          f"got {config.detector.name!r}")
    checks = [
        ("detector.every_n", config.detector.every_n >= 1, "at least 1"),
        ("model.threads", config.model.threads >= 1, "at least 1"),
        ("source.max_fps", config.source.max_fps >= 0, "0 or more"),
        ("output.publish_interval", config.output.publish_interval >= 0, "0 or more"),
        ("output.stats_interval", config.output.stats_interval > 0, "more than 0"),
        ("output.jsonl_backups", config.output.jsonl_backups >= 0, "0 or more"),
        ("tracking.iou_threshold", 0 < config.tracking.iou_threshold < 1, "between 0 and 1"),
    ]
    for key, ok, expected in checks:
        if not ok:
            raise ConfigError(f"{source}: '{key}' must be {expected}")
    if config.mqtt.enabled:
        try:
            config.mqtt.sink_config(config.device.id)
        except ValueError as exc:  # "mqtt port must be ..." -> name the dotted key
            raise ConfigError(f"{source}: {str(exc).replace('mqtt ', 'mqtt.', 1)}") from None
