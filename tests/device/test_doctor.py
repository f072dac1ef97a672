import json
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import MODELS
from tests.device.mosquitto import Broker, make_password_file, make_tls_files

DOCTOR = [sys.executable, "-m", "emotion_device.cli", "doctor"]


def test_doctor_passes_on_a_working_setup(group_photo):
    model = str(MODELS / "emotion5.tflite")
    result = subprocess.run([*DOCTOR, "--source", str(group_photo), "--model", model, "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {c["check"]: c for c in json.loads(result.stdout)}
    assert set(checks) == {"platform", "model", "interpreter", "source", "detector", "outputs"}
    assert all(c["ok"] for c in checks.values())
    assert "sha256 matches the card" in checks["model"]["detail"]
    assert checks["interpreter"]["detail"].startswith("ai-edge-litert")
    assert "face(s) on the source's frame" in checks["detector"]["detail"]


def test_doctor_names_each_broken_part_and_fails(tmp_path):
    result = subprocess.run([*DOCTOR, "--source", str(tmp_path / "gone.mp4"), "--model", "missing"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    table = result.stdout
    assert "model        FAIL    ModelNotFound: model 'missing' not found" in table
    assert "source       FAIL" in table and "detector     PASS" in table


def test_doctor_fails_a_folder_the_daemon_could_not_write(tmp_path, group_photo):
    config = tmp_path / "config.toml"
    config.write_text('[output]\njsonl = "/proc/emotion-edge/faces.jsonl"\n'
                      '[mqtt]\nhost = "127.0.0.1"\nport = 1\nspool_dir = "/proc/emotion-edge/spool"\n')
    result = subprocess.run([*DOCTOR, "--config", str(config), "--source", str(group_photo),
                             "--model", str(MODELS / "emotion5.tflite"), "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    checks = {c["check"]: c for c in json.loads(result.stdout)}
    assert not checks["outputs"]["ok"]
    assert "output.jsonl: /proc/emotion-edge is not writable" in checks["outputs"]["detail"]


@pytest.fixture
def tls_broker(tmp_path):
    tls = make_tls_files(tmp_path / "tls")
    server = Broker(tmp_path / "broker", tls=tls,
                    password_file=make_password_file(tmp_path, {"camera": "pw"})).start()
    yield server, tls
    server.stop(signal.SIGKILL)


@pytest.mark.parametrize(("host", "ok"), [("127.0.0.1", True), ("localhost", False)])
def test_doctor_uses_tls_with_the_system_ca_store_and_checks_the_host_name(tls_broker, tmp_path, host, ok):
    """`mqtt.tls = true` without a CA file: the system's CA store (here SSL_CERT_FILE points
    OpenSSL's default at the test CA) and hostname checking on. The server certificate is
    for IP 127.0.0.1 only, so the same broker reached as "localhost" must be refused."""
    server, tls = tls_broker
    config = tmp_path / "config.toml"
    config.write_text(f'[mqtt]\nhost = "{host}"\nport = {server.port}\ntls = true\n'
                      'username = "camera"\npassword_env = "TEST_MQTT_PASSWORD"\n'
                      f'spool_dir = "{tmp_path / "spool"}"\n')
    env = {**os.environ, "SSL_CERT_FILE": str(tls.ca), "TEST_MQTT_PASSWORD": "pw"}
    result = subprocess.run([*DOCTOR, "--config", str(config), "--source", str(tmp_path),
                             "--model", str(MODELS / "emotion5.tflite"), "--json"],
                            capture_output=True, text=True, timeout=120, env=env)
    broker = {c["check"]: c for c in json.loads(result.stdout)}["broker"]
    if ok:
        assert broker["ok"], broker
        assert broker["detail"] == f"127.0.0.1:{server.port} accepted the connection as camera over TLS"
    else:
        assert not broker["ok"]
        assert "CERTIFICATE_VERIFY_FAILED" in broker["detail"] and "mismatch" in broker["detail"], broker
