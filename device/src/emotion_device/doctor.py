"""`emotion-device doctor`: checks each part of an installation and says which one is broken.

Each check is independent and catches its own failure, so one broken part (no camera) does
not hide the state of the others (model fine, broker reachable).
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotion_device import __version__
from emotion_device.classifier import EmotionClassifier
from emotion_device.config import Config


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


class Doctor:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.classifier: EmotionClassifier | None = None
        self.frame: np.ndarray | None = None

    def check_platform(self) -> str:
        import cv2

        return (f"emotion-device {__version__}, Python {platform.python_version()}, "
                f"numpy {np.__version__}, OpenCV {cv2.__version__}, {platform.machine()}")

    def check_model(self) -> str:
        from emotion_device.classifier import EmotionClassifier
        from emotion_device.models import resolve_model

        path = resolve_model(self.config.model.name)
        self.classifier = EmotionClassifier(path, num_threads=self.config.model.threads,
                                            tta=self.config.model.tta)
        card = self.classifier.card
        block = card.metrics.get("test") or card.metrics.get("val") or {}
        accuracy = block.get("int8", {}).get("accuracy")
        split = block.get("split", "validation")
        shown = f", int8 accuracy {accuracy:.1%} on {split}" if accuracy is not None else ""
        tta = f"; {self.config.model.tta} TTA on" if self.config.model.tta != "off" else ""
        return f"{path} ({card.name}: {', '.join(card.labels)}; sha256 matches the card{shown}{tta})"

    def check_interpreter(self) -> str:
        if self.classifier is None:
            raise RuntimeError("skipped: the model did not load")
        started = time.perf_counter()
        self.classifier.scores(np.full((1, 48, 48, 1), 128, np.float32))
        ms = (time.perf_counter() - started) * 1000
        info = self.classifier.runtime
        return f"{info.name} {info.version}, first invoke {ms:.1f} ms"

    def check_source(self) -> str:
        from emotion_device.sources import open_source

        src = self.config.source
        source = open_source(src.uri, size=(src.width, src.height), lores_width=src.lores_width,
                             reopen_max_delay=1.0, camera_num=src.camera_num)
        try:
            deadline = time.monotonic() + 5
            frame = None
            while frame is None and time.monotonic() < deadline:
                frame = source.read()
            if frame is None:
                raise RuntimeError(f"{src.uri}: opened, but no frame arrived within 5 s")
        finally:
            source.close()
        self.frame = frame.image
        h, w = frame.image.shape[:2]
        return f"{src.uri}: {w}x{h} frame read"

    def check_detector(self) -> str:
        from emotion_device.detectors import create_detector
        from emotion_device.preprocess import to_gray

        detector = create_detector(self.config.detector.name, self.config.detector.options())
        image = self.frame if self.frame is not None else np.zeros((480, 640), np.uint8)
        started = time.perf_counter()
        faces = detector.detect(to_gray(image))
        ms = (time.perf_counter() - started) * 1000
        where = "on the source's frame" if self.frame is not None else "on a blank frame"
        return f"{self.config.detector.name}: {len(faces)} face(s) {where} in {ms:.0f} ms"

    def check_broker(self) -> str:
        """Connect the way the daemon does (the same client factory: TLS, user, password) and
        wait for CONNACK."""
        import threading

        from emotion_device.mqtt_client import make_client

        settings = self.config.mqtt
        password = settings.password()
        answer: dict = {}
        done = threading.Event()

        def on_connect(_client, _userdata, _flags, reason_code, _properties):
            answer["reason"] = reason_code
            done.set()

        client = make_client(settings, f"emotion-edge-doctor-{self.config.device.id}", password)
        client.on_connect = on_connect
        client.connect(settings.host, settings.port, keepalive=10)
        client.loop_start()
        try:
            if not done.wait(5):
                raise TimeoutError(f"{settings.host}:{settings.port} did not answer within 5 s")
        finally:
            client.disconnect()
            client.loop_stop()
        if answer["reason"].is_failure:
            raise PermissionError(f"{settings.host}:{settings.port} refused the connection: "
                                  f"{answer['reason']} (check mqtt.username and the password)")
        auth = f" as {settings.username}" if settings.username else ""
        tls = " over TLS" if settings.uses_tls else ""
        return f"{settings.host}:{settings.port} accepted the connection{auth}{tls}"

    def check_outputs(self) -> str:
        """The folders the daemon writes to accept a file, as this user: the JSON-lines log,
        the MQTT spool and the snapshots. Nothing is created."""
        places = []
        jsonl = self.config.output.jsonl
        if jsonl and jsonl != "-":
            places.append(("output.jsonl", Path(jsonl).parent))
        if self.config.mqtt.enabled:
            places.append(("mqtt.spool_dir", self.config.mqtt.spool_path()))
        if self.config.privacy.debug_snapshots:
            places.append(("privacy.snapshot_dir", Path(self.config.privacy.snapshot_dir)))
        for key, folder in places:
            # Probe without leaving anything behind: a file in the folder if it exists, else a
            # folder in its nearest existing parent (where the daemon would create it).
            existing = folder
            while not existing.exists() and existing != existing.parent:
                existing = existing.parent
            try:
                if existing == folder:
                    with tempfile.TemporaryFile(dir=folder):
                        pass
                else:
                    os.rmdir(tempfile.mkdtemp(dir=existing))
            except OSError as exc:
                raise PermissionError(f"{key}: {folder} is not writable: {exc.strerror or exc}") from None
        return ", ".join(f"{key} {folder}" for key, folder in places) + " writable" if places else \
            "no files to write (JSON lines on stdout, MQTT off)"

    def checks(self) -> list[tuple[str, Callable[[], str]]]:
        checks = [("platform", self.check_platform), ("model", self.check_model),
                  ("interpreter", self.check_interpreter), ("source", self.check_source),
                  ("detector", self.check_detector), ("outputs", self.check_outputs)]
        if self.config.mqtt.enabled:
            checks.append(("broker", self.check_broker))
        return checks

    def run(self) -> list[CheckResult]:
        results = []
        for name, check in self.checks():
            try:
                results.append(CheckResult(name, True, check()))
            except Exception as exc:
                results.append(CheckResult(name, False, f"{type(exc).__name__}: {exc}"))
        return results


def format_table(results: list[CheckResult]) -> str:
    width = max(len(r.name) for r in results)
    lines = [f"{'check':<{width}}  result  detail", f"{'-' * width}  ------  ------"]
    lines += [f"{r.name:<{width}}  {'PASS' if r.ok else 'FAIL':<6}  {r.detail}" for r in results]
    return "\n".join(lines)
