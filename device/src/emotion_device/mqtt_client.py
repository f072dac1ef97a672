"""The one definition of how to reach the MQTT broker ([mqtt] in the config), and the one
factory that makes a paho client from it, used by the sink and by `doctor` alike so that
both connect the same way (TLS, client certificate, user, password).

MQTT is on when `host` is set. The password never appears in the config nor on a command
line: it comes from `password_file` (e.g. a systemd credential) or `password_env`.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from emotion_device.errors import UserError
from emotion_device.options import Options, option
from emotion_device.spool import DEFAULT_MAX_BYTES

TOPIC_LEVELS = r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*"
TOPIC_LEVELS_WORDS = "topic levels of letters, digits, _ and -"
ID_PATTERN = r"[A-Za-z0-9_-]+"
SYSTEM_SPOOL_DIR = Path("/var/lib/emotion-edge/spool")


class SecretError(UserError, ValueError):
    """The MQTT password cannot be read from where the config says it is."""


def default_spool_dir() -> Path:
    """Where messages wait when mqtt.spool_dir is not set: the service's StateDirectory under
    systemd, /var/lib/emotion-edge/spool for root, else the user's own state folder (so the
    README's `run --mqtt-host` works for anyone, without sudo)."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0]) / "spool"
    if os.geteuid() == 0:
        return SYSTEM_SPOOL_DIR
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "emotion-edge" / "spool"


@dataclass
class MqttConfig(Options):
    host: str = ""  # broker host name or address; "" turns MQTT off
    port: int = option(1883, ge=1, le=65535)
    prefix: str = option("emotion-edge", pattern=TOPIC_LEVELS, expected=TOPIC_LEVELS_WORDS)
    username: str = ""
    password_file: str = ""
    password_env: str = ""
    tls: bool = False  # TLS with the system's CA store (hostname checked); implied by the files below
    tls_ca_file: str = ""  # a private CA instead of the system's
    tls_cert_file: str = ""  # client certificate, optional
    tls_key_file: str = ""
    keepalive: int = option(30, ge=1)
    client_id: str = ""  # "" gives emotion-edge-<device id>
    qos: int = option(1, choices=(1, 2))  # the spool needs the broker's acknowledgement
    spool_dir: str = ""  # "" : see default_spool_dir()
    spool_max_bytes: int = option(DEFAULT_MAX_BYTES, gt=0)
    max_inflight: int = option(10, ge=1)
    reconnect_min_delay: float = option(1.0, gt=0)
    reconnect_max_delay: float = option(60.0, gt=0)
    discovery: bool = True
    discovery_prefix: str = option("homeassistant", pattern=TOPIC_LEVELS, expected=TOPIC_LEVELS_WORDS)
    expire_after: int = option(300, ge=0)  # s; Home Assistant marks the sensors unavailable after; 0: never

    def relations(self) -> Iterable[tuple[str, bool, str]]:
        return [
            ("tls_key_file", not self.tls_key_file or bool(self.tls_cert_file),
             "given only with tls_cert_file"),
            ("reconnect_max_delay", self.reconnect_max_delay >= self.reconnect_min_delay,
             "at least reconnect_min_delay"),
            ("password_env", not (self.password_file and self.password_env),
             "empty when password_file is set (give the password in one place)"),
        ]

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    @property
    def uses_tls(self) -> bool:
        return bool(self.tls or self.tls_ca_file or self.tls_cert_file)

    def client_id_for(self, device_id: str) -> str:
        return self.client_id or f"emotion-edge-{device_id}"

    def spool_path(self) -> Path:
        return Path(self.spool_dir) if self.spool_dir else default_spool_dir()

    def password(self) -> str | None:
        return resolve_password(self.password_file, self.password_env)


def resolve_password(password_file: str | None = None, password_env: str | None = None) -> str | None:
    """The MQTT password from a file (trailing newline removed) or an environment variable.

    Both keep the secret off the command line, where every user can read it in `ps`.
    """
    if password_file and password_env:
        raise SecretError("give the MQTT password in a file or in an environment variable, not both")
    if password_file:
        try:
            password = Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise SecretError(f"cannot read the MQTT password file {password_file}: "
                              f"{exc.strerror or exc}") from None
        if not password:
            raise SecretError(f"the MQTT password file {password_file} is empty")
        return password
    if password_env:
        value = os.environ.get(password_env)
        if value is None:
            raise SecretError(f"environment variable {password_env} (the MQTT password) is not set")
        if not value:
            raise SecretError(f"environment variable {password_env} (the MQTT password) is empty")
        return value
    return None


def tls_context(config: MqttConfig) -> ssl.SSLContext:
    """The system's CA store, or tls_ca_file's CA; hostname checking stays on either way."""
    for key in ("tls_ca_file", "tls_cert_file", "tls_key_file"):
        path = getattr(config, key)
        if path and not Path(path).is_file():
            raise UserError(f"mqtt.{key} {path} not found")
    try:
        context = ssl.create_default_context(cafile=config.tls_ca_file or None)
        if config.tls_cert_file:
            context.load_cert_chain(config.tls_cert_file, config.tls_key_file or None)
    except ssl.SSLError as exc:
        raise UserError(f"mqtt TLS files ({config.tls_ca_file or 'system CA store'}, "
                        f"{config.tls_cert_file or 'no client certificate'}) are not usable: {exc}") from None
    return context


def make_client(config: MqttConfig, client_id: str, password: str | None) -> mqtt.Client:
    """A paho client set up from the config: protocol, TLS, user and password. Callbacks,
    the last will and the connection are left to the caller."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         clean_session=True, protocol=mqtt.MQTTv311)
    if config.uses_tls:
        client.tls_set_context(tls_context(config))
    if config.username:
        client.username_pw_set(config.username, password)
    return client


def default_device_id() -> str:
    host = socket.gethostname().split(".")[0]
    return re.sub(r"[^A-Za-z0-9_-]", "-", host) or "emotion-edge"
