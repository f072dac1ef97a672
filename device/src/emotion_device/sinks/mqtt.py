"""MQTT output: faces, room state, stats and summaries under `<prefix>/<device_id>/`, never lost
to an outage.

Each topic carries one type of the daemon's records, as they are (emotion_device.events: every
payload has "schema", "type", "ts", "device_id", "run" and its type's own gapless "seq"):

- `face`: one message per face record, QoS 1, through the spool;
- `stats`: the daemon's periodic stats, QoS 1, through the spool;
- `summary`: one per summary_interval, QoS 1, through the spool;
- `state`: retained, the room's latest state; sent directly, latest value wins, and the same
  record sent again on every reconnect. The daemon writes a new state record with every
  summary, which keeps Home Assistant's expire_after from firing on a quiet room;
- `available`: retained, "online" on every connect, "offline" as the last will, "stopped" on
  a clean close.

Frigate drops events while its broker is away; here face, stats and summary messages are
appended to an on-disk Spool first and leave it only on the broker's PUBACK. The caller's frame loop only
appends. One small publisher thread sends from the spool while connected, at most
`max_inflight` messages at a time, in seq order. On every connect paho's own copies of
unacknowledged messages are dropped and the spool resends from its oldest message, so the
order survives reconnects (a message may arrive twice; never out of order on first arrival).
The spool numbers its messages for that order and for acknowledgements only; restarts keep it.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata

import paho.mqtt.client as mqtt

from emotion_device.errors import UserError
from emotion_device.events import Record
from emotion_device.homeassistant import DiscoveryTarget, discovery_messages, status_topic
from emotion_device.mqtt_client import ID_PATTERN, MqttConfig, default_device_id, make_client
from emotion_device.outage import Outage
from emotion_device.spool import Spool

log = logging.getLogger(__name__)

_AUTH_REFUSALS = ("Bad user name or password", "Not authorized")


@dataclass(frozen=True)
class MqttTopics:
    face: str
    state: str
    stats: str
    summary: str
    available: str

    @classmethod
    def for_device(cls, prefix: str, device_id: str) -> MqttTopics:
        base = f"{prefix}/{device_id}"
        return cls(f"{base}/face", f"{base}/state", f"{base}/stats", f"{base}/summary", f"{base}/available")


def _logged(callback: Callable) -> Callable:
    """An exception escaping a paho callback would kill paho's network thread: log it instead."""

    @functools.wraps(callback)
    def wrapper(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except Exception:
            log.exception("MQTT callback %s failed", callback.__name__)
            return None

    return wrapper


def paho_version() -> str:
    try:
        return metadata.version("paho-mqtt")
    except metadata.PackageNotFoundError:
        return "(version unknown)"


def open_spool(config: MqttConfig) -> Spool:
    """The sink's spool, or one line that names mqtt.spool_dir when the folder is unusable."""
    path = config.spool_path()
    try:
        return Spool(path, config.spool_max_bytes)
    except OSError as exc:
        raise UserError(f"mqtt.spool_dir {path} is not usable: {exc.strerror or exc} "
                        "(set mqtt.spool_dir to a folder this user can write)") from None


def _dumps(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


class MqttSink:
    """The MQTT sink. `connected`, `last_error` and `connect_failures` show its health."""

    def __init__(self, config: MqttConfig, device_id: str | None = None, labels: Sequence[str] = (),
                 model: str = "emotion-edge", spool: Spool | None = None,
                 password: str | None = None) -> None:
        """`password` defaults to the one config.password_file or password_env names."""
        if not hasattr(mqtt.Client, "drop_out_messages"):  # a paho-mqtt 2.0/2.1 from the system
            raise UserError(f"paho-mqtt {paho_version()} is too old: the MQTT sink needs 2.2 or newer "
                            "(pip install 'paho-mqtt>=2.2,<3')")
        self.config = config
        self.device_id = device_id or default_device_id()
        if not config.enabled:
            raise UserError("mqtt.host is empty: no broker to publish to")
        if not re.fullmatch(ID_PATTERN, self.device_id):
            raise UserError(f"device id {self.device_id!r} must be letters, digits, _ and - only "
                            "(it is a level of the MQTT topics)")
        self.client_id = config.client_id_for(self.device_id)
        self.topics = MqttTopics.for_device(config.prefix, self.device_id)
        self.discovery = DiscoveryTarget(
            self.device_id, self.topics.state, self.topics.available, tuple(labels), model,
            config.expire_after or None, config.discovery_prefix, self.topics.summary)
        self.connected = False
        self.last_error: str | None = None
        self.connect_failures = 0
        # _cond guards the fields below and is notified whenever one changes. _publish_lock
        # orders every client.publish against _on_disconnect and the reset in _on_connect, so
        # no message goes to paho between the two; take it first.
        self._cond = threading.Condition()
        self._publish_lock = threading.Lock()
        self._inflight: dict[int, int | None] = {}  # mid -> spool seq (None: a direct message)
        self._early_acks: set[int] = set()  # PUBACKs that beat publish() back to us
        self._spooled_inflight = 0
        self._sent_upto = 0  # highest seq handed to paho on this connection
        self._state: bytes | None = None
        self._stopping = False
        self._closed = False
        self._store_outage = Outage(log)
        self.lost = 0  # messages that could not be stored (a full disk), since start
        self._client = self._make_client(config.password() if password is None else password)
        self.spool = spool or open_spool(config)
        self._thread = threading.Thread(target=self._run_publisher, name="mqtt-spool", daemon=True)
        self._thread.start()
        self._client.connect_async(config.host, config.port, config.keepalive)
        self._client.loop_start()

    def _make_client(self, password: str | None) -> mqtt.Client:
        config = self.config
        client = make_client(config, self.client_id, password)
        # paho reports every outage at ERROR; the callbacks below already say it once, clearly.
        paho_log = logging.getLogger(f"{__name__}.paho")
        client.on_log = lambda _client, _userdata, _level, message: paho_log.debug(message)
        client.will_set(self.topics.available, b"offline", qos=config.qos, retain=True)
        # paho annotates int, but computes with float seconds.
        client.reconnect_delay_set(config.reconnect_min_delay, config.reconnect_max_delay)  # type: ignore[arg-type]
        client.on_connect = _logged(self._on_connect)
        client.on_connect_fail = _logged(self._on_connect_fail)
        client.on_disconnect = _logged(self._on_disconnect)
        client.on_publish = _logged(self._on_publish)
        if config.discovery:
            client.message_callback_add(status_topic(config.discovery_prefix),
                                        _logged(self._on_ha_status))
        return client

    # the Sink interface ----------------------------------------------------------------------
    def write(self, record: Record) -> int | None:
        """Spool a face, stats or summary record (returns its place in the spool), or publish a
        state record. Never waits for the network."""
        if record.type == "state":
            self._write_state(_dumps(record.to_dict()))
            return None
        return self._spool(getattr(self.topics, record.type), record.to_dict())

    def _write_state(self, data: bytes) -> None:
        """The room's state, retained; while disconnected only the latest is kept."""
        with self._publish_lock:
            with self._cond:
                self._state = data
                connected = self.connected
            if connected:
                self._publish_state()

    def reopen(self) -> None:
        """Nothing to reopen: the spool's files are the sink's own."""

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the broker acknowledged everything spooled; False if `timeout` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self.spool.depth.messages == 0, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Drain within `timeout`, say "stopped", disconnect. What is left stays in the spool."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        self.flush(timeout)
        with self._publish_lock:
            info = self._publish(self.topics.available, b"stopped", retain=True) if self.connected else None
        if info is not None:
            try:
                info.wait_for_publish(max(deadline - time.monotonic(), 1.0))
            except (RuntimeError, ValueError):
                log.debug("could not confirm the MQTT 'stopped' message")
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join()
        self._client.disconnect()
        self._client.loop_stop()
        self.spool.close()
        depth = self.spool.depth
        if depth.messages:
            log.warning("%d MQTT message(s) (%d bytes) not yet acknowledged stay in %s for the next run",
                        depth.messages, depth.bytes, self.spool.directory)

    def stats(self) -> dict:
        """The sink's health for the daemon's stats message."""
        depth = self.spool.depth
        return {"mqtt": {"connected": self.connected, "spool_messages": depth.messages,
                         "spool_bytes": depth.bytes, "spool_dropped": self.spool.dropped_total,
                         "spool_lost": self.lost,
                         "connect_failures": self.connect_failures, "last_error": self.last_error}}

    # payloads ------------------------------------------------------------------------------------
    def _spool(self, topic: str, payload: dict) -> int | None:
        try:
            seq = self.spool.append(topic, payload)
        except OSError as exc:
            self._store_failed(exc)
            return None
        self._store_ok()
        with self._cond:
            self._cond.notify_all()
        return seq

    def _store_failed(self, exc: OSError) -> None:
        """Count the message as lost; say so once per outage, not once per message."""
        self.lost += 1
        self._store_outage.failed(f"cannot store MQTT messages in {self.spool.directory}: "
                                  f"{exc.strerror or exc}",
                                  "; they are lost until it works again (counted in stats as spool_lost)")

    def _store_ok(self) -> None:
        self._store_outage.ok(f"storing MQTT messages in {self.spool.directory} again; "
                              f"{self.lost} lost in total")

    # publishing --------------------------------------------------------------------------------
    def _publish(self, topic: str, payload: bytes, retain: bool,
                 seq: int | None = None) -> mqtt.MQTTMessageInfo:
        """Hand one message to paho and remember its mid; call with _publish_lock held."""
        info = self._client.publish(topic, payload, qos=self.config.qos, retain=retain)
        with self._cond:
            acked = info.mid in self._early_acks
            if acked:
                self._early_acks.discard(info.mid)
            else:
                self._inflight[info.mid] = seq
                self._spooled_inflight += seq is not None
        if acked and seq is not None:
            self._acknowledge(seq)
        return info

    def _publish_state(self) -> None:
        with self._cond:
            data = self._state
        if data is not None:
            self._publish(self.topics.state, data, retain=True)

    def _acknowledge(self, seq: int) -> None:
        self.spool.ack(seq)
        with self._cond:
            self._cond.notify_all()

    def _can_send(self) -> bool:
        return (self.connected and self._spooled_inflight < self.config.max_inflight
                and bool(self.spool.entries_after(self._sent_upto, 1)))

    def _run_publisher(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or self._can_send(), timeout=1.0)
                if self._stopping:
                    return
            try:
                self._send_window()
                self.spool.sync()
            except Exception:
                log.exception("MQTT publisher failed; retrying in a second")
                time.sleep(1.0)

    def _send_window(self) -> None:
        with self._publish_lock:
            with self._cond:
                room = self.config.max_inflight - self._spooled_inflight
                if not self.connected or room <= 0:
                    return
                after = self._sent_upto
            for entry in self.spool.entries_after(after, room):
                self._publish(entry.topic, entry.payload, retain=False, seq=entry.seq)
                with self._cond:
                    self._sent_upto = entry.seq

    def _announce_discovery(self) -> None:
        for topic, payload in discovery_messages(self.discovery):
            self._publish(topic, payload, retain=True)

    # paho callbacks (paho's network thread) ----------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            hint = " (check the MQTT user name and password)" if str(reason_code) in _AUTH_REFUSALS else ""
            self._connect_failed(f"MQTT broker {self.config.host}:{self.config.port} refused the "
                                 f"connection: {reason_code}{hint}", logging.ERROR)
            return
        with self._publish_lock:
            # paho would resend its unacknowledged copies after this callback, ahead of anything
            # newer; the spool resends them itself, in seq order.
            client.drop_out_messages()
            with self._cond:
                self._inflight.clear()
                self._early_acks.clear()
                self._spooled_inflight = 0
                self._sent_upto = 0
                self.connected = True
                self.last_error = None
                self._cond.notify_all()
            depth = self.spool.depth
            log.info("connected to MQTT broker %s:%d as %s; %d message(s) waiting in the spool",
                     self.config.host, self.config.port, self.client_id, depth.messages)
            self._publish(self.topics.available, b"online", retain=True)
            if self.config.discovery:
                client.subscribe(status_topic(self.config.discovery_prefix), qos=1)
                self._announce_discovery()
            self._publish_state()

    def _on_connect_fail(self, _client: mqtt.Client, _userdata) -> None:
        # paho calls this from inside its `except OSError`, so the cause is at hand.
        cause = sys.exc_info()[1]
        self._connect_failed(f"cannot connect to MQTT broker {self.config.host}:{self.config.port}"
                             f"{f': {cause}' if cause else ''}; retrying, messages wait in the spool",
                             logging.WARNING)

    def _connect_failed(self, message: str, level: int) -> None:
        with self._cond:
            self.connect_failures += 1
            repeated = message == self.last_error
            self.last_error = message
        log.log(logging.DEBUG if repeated else level, message)

    def _on_disconnect(self, _client: mqtt.Client, _userdata, _flags, reason_code, _properties) -> None:
        # Under _publish_lock: a send window still open on the lost connection ends first, and
        # none is opened until _on_connect has reset the window. Otherwise paho, which reconnects
        # on its own, would carry the rest of the window on the new connection ahead of the
        # spool's resend of older messages (twice delivered, out of order, and counted by paho
        # as in flight for good, since drop_out_messages does not uncount them).
        with self._publish_lock, self._cond:
            was_connected = self.connected
            self.connected = False
            self._cond.notify_all()
        if was_connected and not self._closed:
            self.last_error = f"disconnected from MQTT broker: {reason_code}"
            log.warning("disconnected from MQTT broker %s:%d (%s); reconnecting, messages wait in the spool",
                        self.config.host, self.config.port, reason_code)

    def _on_publish(self, _client: mqtt.Client, _userdata, mid: int, _reason_code, _properties) -> None:
        with self._cond:
            if mid not in self._inflight:
                self._early_acks.add(mid)
                return
            seq = self._inflight.pop(mid)
            self._spooled_inflight -= seq is not None
        if seq is not None:
            self._acknowledge(seq)

    def _on_ha_status(self, _client: mqtt.Client, _userdata, message: mqtt.MQTTMessage) -> None:
        if message.payload.strip().lower() != b"online":
            return
        log.info("Home Assistant is online: announcing discovery again")
        with self._publish_lock:
            if self.connected:
                self._announce_discovery()
