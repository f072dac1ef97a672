"""The MQTT sink against a real Mosquitto on 127.0.0.1: delivery, order, outages, TLS, discovery."""

from __future__ import annotations

import itertools
import logging
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from emotion_device import __version__
from emotion_device.errors import UserError
from emotion_device.events import SCHEMA_VERSION, Record, face_body
from emotion_device.face import Box, Face
from emotion_device.mqtt_client import MqttConfig, resolve_password
from emotion_device.sinks.mqtt import MqttSink
from tests.conftest import REPO
from tests.device.mosquitto import (
    HOST,
    Broker,
    Subscriber,
    make_password_file,
    make_tls_files,
    wait_until,
)

LABELS = ["angry", "neutral", "happy", "sad", "surprise"]
DEVICE = "pi-test"
BASE = f"emotion-edge/{DEVICE}"


RUN = "2026-12-02T05:00:00.000Z"


def record(kind: str, seq: int, body: dict, ts: float | None = None) -> Record:
    return Record(kind, seq, time.time() if ts is None else ts, DEVICE, RUN, body)


def face_event(n: int) -> Record:
    """The n-th face record of a run (its seq is n)."""
    scores = dict.fromkeys(LABELS, 0.05) | {"happy": 0.8}
    face = Face(box=Box(10 + n, 20, 64, 64), scores=scores, label="happy", confidence=0.8)
    return record("face", n, face_body(n, "camera 0", 0, face))


@pytest.fixture
def sinks():
    """Every sink a test makes is closed at the end, even when the test fails."""
    made: list[MqttSink] = []
    yield made
    for sink in made:
        sink.close(timeout=0.2)


@pytest.fixture
def make_sink(tmp_path, sinks):
    def make(port: int, labels=LABELS, **overrides) -> MqttSink:
        options = {"spool_dir": str(tmp_path / "spool"), "keepalive": 5,
                   "reconnect_min_delay": 0.05, "reconnect_max_delay": 0.3, **overrides}
        device_id = options.pop("device_id", DEVICE)
        password = options.pop("password", None)
        sink = MqttSink(MqttConfig(HOST, port=port, **options), device_id, labels=labels,
                        model="emotion5", password=password)
        sinks.append(sink)
        return sink

    return make


@pytest.fixture
def durable_broker(tmp_path):
    """A broker that keeps sessions across restarts, for subscribers that must miss nothing."""
    server = Broker(tmp_path / "broker", persistence=True).start()
    yield server
    server.stop(signal.SIGKILL)


@pytest.fixture
def subscribers():
    made: list[Subscriber] = []
    yield made
    for subscriber in made:
        subscriber.close()


def connected(sink: MqttSink, timeout: float = 10.0) -> MqttSink:
    wait_until(lambda: sink.connected, timeout, f"the sink to connect ({sink.last_error})")
    return sink


def first_arrivals(messages) -> list[int]:
    """The seqs in the order each first arrived: at-least-once may repeat, never reorder."""
    seen: set[int] = set()
    order = []
    for message in messages:
        seq = message.seq()
        if seq not in seen:
            seen.add(seq)
            order.append(seq)
    return order


def test_every_record_type_arrives_as_it_was_written_on_its_topic(broker, make_sink, subscribers):
    live = Subscriber(broker.port, [f"{BASE}/#"])
    subscribers.append(live)
    sink = connected(make_sink(broker.port))
    events = [face_event(n) for n in range(1, 4)]
    for event in events:
        sink.write(event)
    sink.write(record("state", 1, {"faces": 1, "dominant": "happy", "face_labels": {"1": "happy"}},
                      ts=1795576123.5))
    sink.write(record("stats", 1, {"fps": 4.2, "frames": 3}))
    sink.write(record("summary", 1, {"interval_s": 60.0, "share": {"happy": 100.0}}))
    sink.write(face_event(4))
    assert sink.flush(5)
    live.wait_for(lambda m: sum(x.topic != f"{BASE}/available" for x in m) >= 7, 5, "seven messages")

    faces = [m.json() for m in live.on(f"{BASE}/face")]
    state = [m.json() for m in live.on(f"{BASE}/state")]
    stats = [m.json() for m in live.on(f"{BASE}/stats")]
    summary = [m.json() for m in live.on(f"{BASE}/summary")]
    assert len(faces) == 4 and len(state) == 1 and len(stats) == 1 and len(summary) == 1
    for payload in faces + state + stats + summary:
        assert payload["schema"] == SCHEMA_VERSION and payload["device_id"] == DEVICE
        assert payload["run"] == RUN and isinstance(payload["ts"], float)
    assert [p["seq"] for p in faces] == [1, 2, 3, 4]  # each type its own gapless counter
    assert state[0]["seq"] == stats[0]["seq"] == summary[0]["seq"] == 1
    kinds = [p["type"] for p in faces + state + stats + summary]
    assert kinds == ["face"] * 4 + ["state", "stats", "summary"]
    assert faces[0]["ts"] == round(events[0].ts, 3)
    assert faces[0]["label"] == "happy" and faces[0]["scores"]["happy"] == 0.8
    assert faces[0]["box"] == [11, 20, 64, 64] and faces[0]["source"] == "camera 0"
    assert state[0]["ts"] == 1795576123.5 and state[0]["dominant"] == "happy" and state[0]["faces"] == 1
    assert stats[0]["fps"] == 4.2
    assert sink.stats()["mqtt"] == {"connected": True, "spool_messages": 0, "spool_bytes": 0,
                                    "spool_dropped": 0, "spool_lost": 0, "connect_failures": 0,
                                    "last_error": None}

    late = Subscriber(broker.port, [f"{BASE}/available", f"{BASE}/state"])
    subscribers.append(late)
    late.wait_for(lambda m: len(m) == 2, 5, "retained available and state")
    assert all(m.retain for m in late.messages)
    assert late.on(f"{BASE}/available")[0].payload == b"online"
    assert late.on(f"{BASE}/state")[0].json()["seq"] == state[0]["seq"]

    sink.close()
    live.wait_for(lambda m: m[-1].payload == b"stopped", 5, "'stopped' on the available topic")
    after = Subscriber(broker.port, [f"{BASE}/available"])
    subscribers.append(after)
    after.wait_for(lambda m: m, 5, "the retained availability")
    assert after.messages[0].payload == b"stopped" and after.messages[0].retain


def test_the_last_will_says_offline_when_the_publisher_is_killed(broker, tmp_path, subscribers):
    watcher = Subscriber(broker.port, [f"{BASE}/available"])
    subscribers.append(watcher)
    code = (
        "import sys, time\n"
        "from emotion_device.mqtt_client import MqttConfig\n"
        "from emotion_device.sinks.mqtt import MqttSink\n"
        f"config = MqttConfig({HOST!r}, port={broker.port}, keepalive=2,\n"
        f"                    spool_dir={str(tmp_path / 'spool')!r}, discovery=False)\n"
        f"sink = MqttSink(config, {DEVICE!r})\n"
        "deadline = time.monotonic() + 10\n"
        "while not sink.connected and time.monotonic() < deadline:\n"
        "    time.sleep(0.01)\n"
        "print('connected' if sink.connected else sink.last_error, flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=REPO)
    try:
        line = child.stdout.readline().strip()  # the child gives up after 10 s
        assert line == "connected", child.stderr.read() if child.poll() is not None else line
        watcher.wait_for(lambda m: m and m[-1].payload == b"online", 5, "'online'")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=5)
        watcher.wait_for(lambda m: m[-1].payload == b"offline", 6, "the last will 'offline'")
    finally:
        child.kill()
        child.wait(timeout=5)
        child.stdout.close()
        child.stderr.close()
    after = Subscriber(broker.port, [f"{BASE}/available"])
    subscribers.append(after)
    after.wait_for(lambda m: m, 5, "the retained availability")
    assert after.messages[0].payload == b"offline" and after.messages[0].retain


class Writer:
    """Writes a face event every few milliseconds from its own thread, like the frame loop."""

    def __init__(self, sink: MqttSink) -> None:
        self.sink = sink
        self.written: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        wait_until(lambda: self.written, 5, "the first write")

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            self.written.append(self.sink.write(face_event(n)))
            time.sleep(0.002)  # pacing, like a camera; nothing is asserted about time

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.written


def restart_while_writing(broker: Broker, reader: Subscriber, writer: Writer, signals,
                          spooled: int = 20) -> None:
    """Each restart waits until the reader has caught up, so every outage hits a live stream,
    and lasts until the writer has written `spooled` more events into the spool (counted,
    not timed, so a loaded machine makes the test slower, never weaker)."""
    for signum in signals:
        target = writer.written[-1]
        reader.wait_for(lambda _: reader.highest_seq >= target, 30,  # noqa: B023
                        f"seq {target} before the next restart")
        broker.stop(signum)
        during = len(writer.written) + spooled
        wait_until(lambda: len(writer.written) >= during, 30,  # noqa: B023
                   f"{spooled} events written while the broker is away")
        broker.start()


def test_broker_chaos_10_restarts_during_5000_face_events_lose_nothing(durable_broker, make_sink,
                                                                       subscribers):
    # SIGTERM: the broker saves its sessions, so the persistent reader misses nothing either and
    # any gap would be the sink's fault. (After SIGKILL a broker itself loses messages it had
    # already acknowledged; the next test covers crashes.)
    reader = Subscriber(durable_broker.port, [f"{BASE}/face"], persistent=True)
    subscribers.append(reader)
    sink = connected(make_sink(durable_broker.port))
    writer = Writer(sink)
    try:
        restart_while_writing(durable_broker, reader, writer, [signal.SIGTERM] * 10, spooled=100)
        wait_until(lambda: len(writer.written) >= 5000, 120, "5000 face events")
    finally:
        written = writer.stop()
    assert len(written) >= 5000
    assert sink.flush(30), f"spool not drained: {sink.spool.depth}"
    assert sink.spool.depth.messages == 0 and sink.spool.depth.bytes == 0
    assert written == list(range(1, len(written) + 1))
    reader.wait_for(lambda _: len(reader.seqs) >= len(written), 30, f"all {len(written)} seqs")
    assert first_arrivals(reader.messages) == written  # every event, once at least, in order
    delivered = len(set(first_arrivals(reader.messages)))
    print(f"broker chaos: 10 restarts, {len(written)} face events written, {delivered} delivered, "
          f"{len(reader.messages) - len(written)} duplicates")


def test_broker_crashes_keep_the_order_and_the_spool_drains(broker, make_sink, subscribers):
    reader = Subscriber(broker.port, [f"{BASE}/face"])
    subscribers.append(reader)
    sink = connected(make_sink(broker.port))
    writer = Writer(sink)
    try:
        restart_while_writing(broker, reader, writer, [signal.SIGKILL] * 3)
        reader.wait_for(lambda m: len(m) > 0 and m[-1].json()["seq"] > writer.written[-1] - 10, 10,
                        "the stream after the last crash")
        resumed = reader.messages[-1].json()["seq"]
    finally:
        written = writer.stop()
    assert sink.flush(15), f"spool not drained: {sink.spool.depth}"
    assert sink.spool.depth.messages == 0
    reader.wait_for(lambda _: written[-1] in reader.seqs, 10, f"seq {written[-1]}")
    arrivals = first_arrivals(reader.messages)
    assert arrivals == sorted(arrivals)
    assert [seq for seq in arrivals if seq >= resumed] == list(range(resumed, written[-1] + 1))


class HeldWindow:
    """Holds the spool publisher inside one send window while the test restarts the broker.

    Armed, the publisher's next publish stops until the test releases it, then waits until paho
    has its new connection (at most a second), then goes on. Only the publisher thread is
    held: paho's own thread publishes from on_connect."""

    def __init__(self, sink: MqttSink, monkeypatch) -> None:
        self.client, self.lock = sink._client, sink._publish_lock
        self.armed, self.inside, self.released = threading.Event(), threading.Event(), threading.Event()
        publish = self.client.publish

        def held_publish(*args, **kwargs):
            if self.armed.is_set() and threading.current_thread().name == "mqtt-spool":
                self.armed.clear()
                self.inside.set()
                self.released.wait(10)
                deadline = time.monotonic() + 1.0
                while not self.client.is_connected() and time.monotonic() < deadline:
                    time.sleep(0.01)
            return publish(*args, **kwargs)

        monkeypatch.setattr(self.client, "publish", held_publish)

    def restart_inside_a_window(self, broker: Broker, write: Callable[[], None]) -> None:
        self.inside.clear()
        self.released.clear()
        self.armed.set()
        with self.lock:  # the whole batch is spooled before the publisher opens its window
            write()
        wait_until(self.inside.is_set, 10, "the publisher inside a send window")
        broker.stop(signal.SIGTERM)
        broker.start()
        self.released.set()


def test_an_outage_in_the_middle_of_a_send_window_loses_nothing(durable_broker, make_sink,
                                                                  subscribers, monkeypatch):
    # The publisher hands up to max_inflight messages to paho per window. If the broker goes
    # away in the middle of one and paho reconnects before the window ends, the rest of the
    # window must not go out on the new connection ahead of on_connect's reset, which resends
    # the spool from its oldest message: they would arrive twice, ahead of older unacknowledged
    # ones, and paho (drop_out_messages does not uncount them) would count them in flight for
    # the rest of that connection.
    reader = Subscriber(durable_broker.port, [f"{BASE}/face"], persistent=True)
    subscribers.append(reader)
    sink = connected(make_sink(durable_broker.port, discovery=False))
    window = HeldWindow(sink, monkeypatch)
    written: list[int] = []

    def write_25() -> None:
        start = len(written) + 1
        written.extend(sink.write(face_event(n)) for n in range(start, start + 25))

    for outage in range(1, 4):
        window.restart_inside_a_window(durable_broker, write_25)
        assert connected(sink).flush(15), f"spool not drained after outage {outage}: {sink.spool.depth}"
    assert written == list(range(1, 76))
    reader.wait_for(lambda _: len(reader.seqs) >= 75, 10, "all 75 seqs")
    # Each outage cut a window before any of it reached a broker, and the spool was drained
    # before the next one: the sink published every face once, in order. The reader may still
    # get a face twice from the broker itself: what it had not acknowledged when the broker
    # stopped comes again after the restart, flagged DUP. A second publish by the sink would
    # come as a new message, without the flag.
    assert first_arrivals(reader.messages) == written
    seen: set[int | None] = set()
    for message in reader.messages:
        assert message.seq() not in seen or message.dup, f"seq {message.seq()} published twice"
        seen.add(message.seq())


def test_a_full_spool_drops_the_oldest_with_a_warning(durable_broker, make_sink, subscribers, caplog):
    reader = Subscriber(durable_broker.port, [f"{BASE}/face"], persistent=True)
    subscribers.append(reader)
    durable_broker.stop(signal.SIGTERM)
    caplog.set_level(logging.WARNING, logger="emotion_device.spool")
    sink = make_sink(durable_broker.port, spool_max_bytes=2000)
    written = [sink.write(face_event(n)) for n in range(1, 31)]
    kept = sink.spool.depth
    assert 1 < kept.messages < 30 and kept.bytes <= 2000
    assert sink.spool.dropped_total == 30 - kept.messages

    durable_broker.start()
    assert sink.flush(10), f"spool not drained: {sink.spool.depth}"
    reader.wait_for(lambda m: len(m) >= kept.messages, 10, f"{kept.messages} kept messages")
    assert first_arrivals(reader.messages) == written[-kept.messages:]

    sink.close()
    warnings = [r.getMessage() for r in caplog.records if "dropped the" in r.getMessage()]
    counts = [int(re.search(r"dropped the (\d+) oldest", w).group(1)) for w in warnings]
    assert warnings and sum(counts) == 30 - kept.messages
    assert warnings[-1].endswith(f"{30 - kept.messages} dropped in total")


def test_spooled_messages_are_sent_by_the_next_run(durable_broker, make_sink, tmp_path, subscribers, caplog):
    reader = Subscriber(durable_broker.port, [f"{BASE}/face", f"{BASE}/stats"], persistent=True)
    subscribers.append(reader)
    durable_broker.stop(signal.SIGTERM)
    first = make_sink(durable_broker.port)
    written = [first.write(face_event(n)) for n in range(1, 6)]
    written.append(first.write(record("stats", 1, {"fps": 1.0})))
    caplog.set_level(logging.WARNING)
    first.close(timeout=0.2)
    assert "6 MQTT message(s)" in caplog.text and "stay in" in caplog.text
    assert list((tmp_path / "spool").glob("seg-*.jsonl"))

    durable_broker.start()
    second = make_sink(durable_broker.port)
    assert second.flush(10), f"spool not drained: {second.spool.depth}"
    reader.wait_for(lambda m: len(m) >= 6, 10, "the six spooled messages")
    assert written == [1, 2, 3, 4, 5, 6]  # the spool's own order
    assert [(m.json()["type"], m.json()["seq"]) for m in reader.messages][:6] == [
        ("face", 1), ("face", 2), ("face", 3), ("face", 4), ("face", 5), ("stats", 1)]
    assert second.write(face_event(6)) == 7  # the spool's order continues across runs
    assert second.flush(5)


USERS = {"camera": "right horse battery", "watcher": "staple"}


@pytest.fixture
def secure_broker(tmp_path):
    """TLS on 127.0.0.1 with a throwaway CA, a password file and no anonymous access."""
    tls = make_tls_files(tmp_path / "tls")
    server = Broker(tmp_path / "broker", tls=tls, password_file=make_password_file(tmp_path, USERS))
    server.start()
    yield server, tls
    server.stop(signal.SIGKILL)


def test_tls_with_a_password_and_a_clear_error_for_a_wrong_one(secure_broker, tmp_path, make_sink,
                                                               subscribers, caplog):
    server, tls = secure_broker
    reader = Subscriber(server.port, [f"{BASE}/face"], tls=tls, auth=("watcher", USERS["watcher"]))
    subscribers.append(reader)
    sink = connected(make_sink(server.port, tls_ca_file=str(tls.ca), username="camera",
                               password=USERS["camera"]))
    sink.write(face_event(1))
    assert sink.flush(5)
    reader.wait_for(lambda m: m, 5, "a face over TLS")
    assert reader.messages[0].json()["seq"] == 1

    caplog.set_level(logging.DEBUG, logger="emotion_device.sinks.mqtt")
    wrong = make_sink(server.port, device_id="pi-wrong", spool_dir=str(tmp_path / "spool-wrong"),
                      tls_ca_file=str(tls.ca), username="camera", password="wrong",
                      reconnect_min_delay=0.2, reconnect_max_delay=1.0)
    wrong.write(face_event(1))  # neither raises nor blocks while the broker refuses

    def refusals() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "refused the connection" in r.getMessage()
                and r.name == "emotion_device.sinks.mqtt"]

    # Wait on the log, not on connect_failures: the counter goes up just before its line is
    # logged, so a wait on the counter can see four failures but only three lines.
    wait_until(lambda: len(refusals()) >= 4, 30, "four logged refusals")
    assert wrong.connect_failures >= 4
    assert not wrong.connected
    assert re.search("not authorized|bad user name or password", wrong.last_error, re.IGNORECASE)
    assert "check the MQTT user name and password" in wrong.last_error
    logged = refusals()
    # Backing off, not a tight loop: consecutive attempts are at least reconnect_min_delay
    # apart (a lower bound, which a loaded machine can only lengthen).
    gaps = [b.created - a.created for a, b in itertools.pairwise(logged)]
    assert len(gaps) >= 3 and min(gaps) >= 0.2 * 0.9, gaps
    errors = [r for r in logged if r.levelno == logging.ERROR]
    assert len(errors) == 1, "a repeated refusal is logged once, not on every retry"
    assert wrong.stats()["mqtt"]["connected"] is False
    assert wrong.spool.depth.messages == 1


def test_home_assistant_discovery_is_retained_and_repeated_when_ha_comes_online(
        broker, make_sink, subscribers):
    config_topics = [f"homeassistant/sensor/{DEVICE}/emotion/config",
                     f"homeassistant/sensor/{DEVICE}/faces/config"]
    # A subscriber that is there before the sink publishes gets the configs live, and MQTT
    # clears the retain flag on live delivery: wait until the broker holds them first, then
    # check that Home Assistant, subscribing later, gets them as retained messages.
    early = Subscriber(broker.port, config_topics)
    subscribers.append(early)
    sink = connected(make_sink(broker.port))
    early.wait_for(lambda m: len(m) == 2, 5, "the two config messages at the broker")
    ha = Subscriber(broker.port, config_topics)
    subscribers.append(ha)
    ha.wait_for(lambda m: len(m) == 2, 5, "two retained config messages")
    assert all(m.retain for m in ha.messages)
    emotion = ha.on(config_topics[0])[0].json()
    faces = ha.on(config_topics[1])[0].json()
    assert emotion["device_class"] == "enum" and emotion["options"] == [*LABELS, "nobody"]
    assert emotion["value_template"] == "{{ value_json.dominant }}"  # "nobody" is shown as it is
    assert "value_json.faces" in faces["value_template"] and faces["unit_of_measurement"] == "faces"
    for config in (emotion, faces):
        assert config["state_topic"] == sink.topics.state
        assert config["availability_topic"] == sink.topics.available
        assert config["payload_available"] == "online" and config["payload_not_available"] == "offline"
        assert config["expire_after"] == 300
        assert config["device"]["identifiers"] == [f"emotion-edge_{DEVICE}"]
        assert config["device"]["sw_version"] == __version__ and config["device"]["model"] == "emotion5"
    assert emotion["unique_id"] != faces["unique_id"]

    ha.publish("homeassistant/status", b"online")
    ha.wait_for(lambda m: len(m) == 4, 5, "the configs again after HA's 'online'")
    assert {m.topic for m in ha.messages[2:]} == set(config_topics)


def test_resolve_password_reads_a_file_or_an_environment_variable(tmp_path, monkeypatch):
    secret = tmp_path / "mqtt.password"
    secret.write_text("s3cret with spaces \n")
    assert resolve_password(str(secret), None) == "s3cret with spaces "
    monkeypatch.setenv("EMOTION_EDGE_MQTT_PASSWORD", "from-env")
    assert resolve_password(None, "EMOTION_EDGE_MQTT_PASSWORD") == "from-env"
    assert resolve_password(None, None) is None

    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "missing"))):
        resolve_password(str(tmp_path / "missing"), None)
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        resolve_password(str(tmp_path / "empty"), None)
    monkeypatch.delenv("EMOTION_EDGE_MQTT_PASSWORD")
    with pytest.raises(ValueError, match=r"EMOTION_EDGE_MQTT_PASSWORD .* is not set"):
        resolve_password(None, "EMOTION_EDGE_MQTT_PASSWORD")
    with pytest.raises(ValueError, match="not both"):
        resolve_password(str(secret), "EMOTION_EDGE_MQTT_PASSWORD")


def test_a_config_that_cannot_work_is_refused_before_connecting(tmp_path):
    with pytest.raises(UserError, match="device id"):
        MqttSink(MqttConfig(HOST, spool_dir=str(tmp_path)), "kitchen/pi")
    with pytest.raises(ValueError, match="qos"):
        MqttConfig(HOST, qos=0)
    with pytest.raises(UserError, match="tls_ca_file"):
        MqttSink(MqttConfig(HOST, tls_ca_file=str(tmp_path / "nope.crt"), spool_dir=str(tmp_path)))


def test_a_paho_without_drop_out_messages_is_refused_in_one_line(tmp_path):
    """paho-mqtt 2.0 and 2.1 lack Client.drop_out_messages (2.2): with one of them (say from a
    system site-packages) the sink used to connect, fail in every on_connect and publish
    nothing while the spool filled. It must refuse to start instead, saying why."""
    code = ("import paho.mqtt.client as m; del m.Client.drop_out_messages\n"
            "from emotion_device.mqtt_client import MqttConfig\n"
            "from emotion_device.sinks.mqtt import MqttSink\n"
            f"MqttSink(MqttConfig('127.0.0.1', spool_dir={str(tmp_path)!r}), 'pi')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "is too old: the MQTT sink needs 2.2 or newer" in result.stderr.splitlines()[-1]
