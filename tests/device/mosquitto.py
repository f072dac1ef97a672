"""A real Mosquitto broker for the MQTT tests, and a paho subscriber that records what arrives.

Each broker has its own config in the test's folder and listens on a free 127.0.0.1 port, so
tests never touch a system broker. Where mosquitto (or openssl for the TLS test) is missing
the tests skip with the reason; under CI (CI=true) they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.conftest import in_ci

HOST = "127.0.0.1"
SBIN = ("/usr/sbin", "/usr/local/sbin")


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))
    if path:
        return path
    message = f"{name} is not installed (apt install {package})"
    if in_ci():
        pytest.fail(f"{message}; required when CI=true")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def make_tls_files(folder: Path) -> TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1, made with the openssl CLI."""
    openssl = require_tool("openssl", "openssl")
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.crt", folder / "ca.key"
    cert, key, csr = folder / "server.crt", folder / "server.key", folder / "server.csr"
    extensions = folder / "server.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                          "keyUsage=critical,digitalSignature,keyEncipherment\n"
                          "extendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\n"
                          "subjectKeyIdentifier=hash\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    commands = [
        [openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=emotion-edge test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        [openssl, "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        [openssl, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", extensions],
    ]
    for command in commands:
        subprocess.run([str(part) for part in command], check=True, capture_output=True, timeout=30)
    return TlsFiles(ca, cert, key)


def make_password_file(folder: Path, users: dict[str, str]) -> Path:
    tool = require_tool("mosquitto_passwd", "mosquitto")
    path = folder / "passwd"
    for index, (user, password) in enumerate(users.items()):
        create = ["-c"] if index == 0 else []
        subprocess.run([tool, "-b", *create, str(path), user, password],
                       check=True, capture_output=True, timeout=30)
    path.chmod(0o600)  # newer brokers warn about (and will refuse) readable password files
    return path


class Broker:
    """One mosquitto process; stop and start it again on the same port to simulate outages."""

    def __init__(self, folder: Path, persistence: bool = False, tls: TlsFiles | None = None,
                 password_file: Path | None = None) -> None:
        self.binary = require_tool("mosquitto", "mosquitto")
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"
        lines = [
            f"listener {self.port} {HOST}",
            f"allow_anonymous {'false' if password_file else 'true'}",
            # Unlimited, so a slow test subscriber never makes the broker hold messages back.
            "max_inflight_messages 0",
            "max_queued_messages 0",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            f"persistence {'true' if persistence else 'false'}",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # otherwise it becomes `mosquitto` and cannot read tmp_path
        if persistence:
            lines += [f"persistence_location {folder}/", "autosave_interval 1"]
        if tls:
            lines += [f"cafile {tls.ca}", f"certfile {tls.cert}", f"keyfile {tls.key}"]
        if password_file:
            lines.append(f"password_file {password_file}")
        self.config.write_text("\n".join(lines) + "\n")
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> Broker:
        self._process = subprocess.Popen([self.binary, "-c", str(self.config)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(f"mosquitto exited with {self._process.returncode}: "
                                     f"{self._process.stderr.read().decode()} {self.log_text()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop(signal.SIGKILL)
        raise AssertionError(f"mosquitto did not listen on {HOST}:{self.port}: {self.log_text()}")

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """SIGTERM lets it save its persistence file; SIGKILL is a crash."""
        if self._process is None:
            return
        self._process.send_signal(signum)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process.stderr.close()
        self._process = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    dup: bool = False  # the broker's redelivery of a message it had sent before (MQTT's DUP flag)

    def json(self) -> dict:
        return json.loads(self.payload)

    def seq(self) -> int | None:
        """The record's "seq", or None for a payload that is not a record ("online")."""
        try:
            record = self.json()
        except ValueError:
            return None
        return record.get("seq") if isinstance(record, dict) else None


class Subscriber:
    """A paho client that records every message on its topics (QoS 1).

    `persistent` keeps its session on the broker (clean_session=False), so messages that
    arrive while it is disconnected wait for it, across broker restarts with persistence.

    `seqs` and `highest_seq` are kept up to date as records arrive, so a wait on thousands of
    messages costs O(1) per message: a predicate that parses every message on each wake-up
    holds the lock the network thread needs, and falls further behind the more it has read.
    """

    def __init__(self, port: int, topics: Sequence[str], persistent: bool = False,
                 tls: TlsFiles | None = None, auth: tuple[str, str] | None = None,
                 timeout: float = 10.0) -> None:
        self.topics = list(topics)
        self.messages: list[Received] = []
        self.seqs: set[int] = set()  # the "seq" of every JSON record received
        self.highest_seq = 0
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"test-subscriber-{uuid.uuid4().hex[:8]}",
                                  clean_session=not persistent)
        if tls:
            self.client.tls_set(ca_certs=str(tls.ca))
        if auth:
            self.client.username_pw_set(*auth)
        self.client.reconnect_delay_set(0.05, 0.2)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect_async(HOST, port, keepalive=5)
        self.client.loop_start()
        if not self._subscribed.wait(timeout):
            self.close()
            raise AssertionError(f"test subscriber could not subscribe on {HOST}:{port}")

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if not reason_code.is_failure:
            client.subscribe([(topic, 1) for topic in self.topics])

    def _on_message(self, _client, _userdata, message) -> None:
        received = Received(message.topic, bytes(message.payload), bool(message.retain), bool(message.dup))
        seq = received.seq()
        with self._cond:
            self.messages.append(received)
            if seq is not None:
                self.seqs.add(seq)
                self.highest_seq = max(self.highest_seq, seq)
            self._cond.notify_all()

    def on(self, topic: str) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, predicate: Callable[[list[Received]], object], timeout: float, what: str) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.messages), timeout):
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                     f"got {len(self.messages)} message(s)")

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
