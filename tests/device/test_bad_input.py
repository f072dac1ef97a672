"""Every bad input a user can give the CLI ends in one clear line and the documented exit
status (2: fix the input; 1: some of several images; 0: fine), never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MODELS

CLI = [sys.executable, "-m", "emotion_device.cli"]
MODEL = str(MODELS / "emotion5.tflite")


def cli(*args: str | Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=120, **kwargs)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str, status: int = 2) -> None:
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("emotion-device: error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


# check-config refuses what run refuses ------------------------------------------------------
@pytest.mark.parametrize(("text", "fragments"), [
    ('[model]\nname = "no-such-model"', ["'model.name'", "model 'no-such-model' not found"]),
    ("[output]\njsonl_max_bytes = -1",
     ["'output.jsonl_max_bytes' must be 0 (never rotate) or at least 4096, got -1"]),
    ("[detector.haar]\nmin_size = -5", ["'detector.haar.min_size' must be at least 0, got -5"]),
    ("[source]\nwidth = -640", ["'source.width' must be more than 0, got -640"]),
    ('[detector]\nname = "yolo"', ["'detector.name' must be one of 'haar', 'blazeface', got 'yolo'"]),
    ('[mqtt]\nhost = "b"\npassword_file = "/x"\npassword_env = "P"', ["'mqtt.password_env' must be empty"]),
    ('[mqtt]\nhost = "b"\nqos = 0', ["'mqtt.qos' must be one of 1, 2, got 0"]),
    ('[mqtt]\nhost = "b"\nport = 70000', ["'mqtt.port' must be at least 1 and at most 65535"]),
    ('[mqtt]\nhost = "b"\nprefix = "a//b"', ["'mqtt.prefix' must be topic levels"]),
    ('[mqtt]\nhost = "b"\n[device]\nid = "kitchen/pi"', ["'device.id' must be letters, digits"]),
    ('[mqtt]\ntls = "yes"', ["'mqtt.tls' must be bool, got 'yes'"]),
    ('[mqtt]\nspool_dri = "/tmp"', ["unknown key 'mqtt.spool_dri' (did you mean mqtt.spool_dir?)"]),
])
def test_check_config_and_run_refuse_the_same_configs(tmp_path, text, fragments):
    path = write_config(tmp_path, text)
    assert_one_line_error(cli("check-config", path), str(path), *fragments)
    assert_one_line_error(cli("run", "--config", path, "--source", tmp_path, "--max-frames", "1"),
                          *fragments)


def test_check_config_accepts_a_good_config_and_prints_it_as_json(tmp_path):
    path = write_config(tmp_path, '[mqtt]\nhost = "broker.example"\ntls = true\nport = 8883\n')
    result = cli("check-config", path)
    assert result.returncode == 0 and result.stdout.strip() == f"{path}: OK"
    result = cli("check-config", path, "--json")
    assert result.returncode == 0 and '"tls": true' in result.stdout


def test_check_config_json_into_a_closed_pipe_is_quiet(tmp_path):
    path = write_config(tmp_path, "")
    result = subprocess.run(f"{sys.executable} -m emotion_device.cli check-config {path} --json | head -1",
                            shell=True, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout == "{\n"
    assert "BrokenPipeError" not in result.stderr and "Traceback" not in result.stderr, result.stderr


# run ------------------------------------------------------------------------------------------
def test_max_frames_must_not_be_negative(tmp_path):
    result = cli("run", "--source", tmp_path, "--max-frames", "-3")
    assert result.returncode == 2
    assert "--max-frames: must be 0 or more, got -3" in result.stderr


def test_a_source_that_gives_no_frame_is_an_error(tmp_path):
    fake = tmp_path / "notimage.png"
    fake.write_text("not a picture")
    result = cli("run", "--model", MODEL, "--source", fake)
    assert_one_line_error(result, f"source {fake}: no frame could be read")


def test_an_uncreatable_log_names_the_option(tmp_path, face_photos):
    result = cli("run", "--model", MODEL, "--source", face_photos[0],
                 "--log", "/proc/emotion-edge/faces.jsonl")
    assert_one_line_error(result, "output.jsonl (--log) /proc/emotion-edge/faces.jsonl: cannot write it")


def test_an_unwritable_spool_names_the_key(tmp_path, face_photos):
    path = write_config(tmp_path, '[mqtt]\nhost = "127.0.0.1"\nspool_dir = "/proc/emotion-edge/spool"\n')
    result = cli("run", "--config", path, "--model", MODEL, "--source", face_photos[0])
    assert_one_line_error(result, "mqtt.spool_dir /proc/emotion-edge/spool is not usable")


def test_the_default_spool_of_a_normal_user_is_in_their_home(tmp_path):
    """Without mqtt.spool_dir a user who is not root gets ~/.local/state/emotion-edge/spool
    (systemd's $STATE_DIRECTORY for the service), not /var/lib, which they cannot write."""
    code = ("import os; from emotion_device.mqtt_client import default_spool_dir;"
            "os.geteuid = lambda: 1000; print(default_spool_dir())")
    env = {k: v for k, v in os.environ.items() if k not in ("STATE_DIRECTORY", "XDG_STATE_HOME")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**env, "HOME": str(tmp_path)}, check=True)
    assert result.stdout.strip() == str(tmp_path / ".local/state/emotion-edge/spool")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**env, "STATE_DIRECTORY": "/var/lib/emotion-edge"}, check=True)
    assert result.stdout.strip() == "/var/lib/emotion-edge/spool"


# classify --annotate ----------------------------------------------------------------------
def test_annotate_refuses_a_file_for_several_images(tmp_path, face_photos):
    out = tmp_path / "one.png"
    out.write_bytes(b"")
    result = cli("classify", face_photos[0], face_photos[0], "--model", MODEL, "--annotate", out)
    assert_one_line_error(result, f"--annotate {out}: several images need a folder")


def test_annotate_refuses_an_unknown_extension(tmp_path, face_photos):
    out = tmp_path / "annotated.xyz"
    result = cli("classify", face_photos[0], "--model", MODEL, "--annotate", out)
    assert_one_line_error(result, "unknown image extension '.xyz'")
    assert not out.exists()


def test_annotate_into_an_unwritable_place_is_one_line(face_photos):
    result = cli("classify", face_photos[0], "--model", MODEL, "--annotate", "/proc/emotion-edge/a.png")
    assert_one_line_error(result, "--annotate /proc/emotion-edge/a.png: cannot write it")


def test_annotate_into_a_folder_writes_one_image_per_input(tmp_path, face_photos):
    out = tmp_path / "annotated"
    out.mkdir()
    result = cli("classify", face_photos[0], "--model", MODEL, "--annotate", out)
    assert result.returncode == 0, result.stderr
    assert (out / f"{face_photos[0].stem}.annotated.png").stat().st_size > 0


def test_classify_exit_statuses(tmp_path, face_photos):
    fake = tmp_path / "notimage.png"
    fake.write_text("not a picture")
    assert_one_line_error(cli("classify", fake, "--model", MODEL), f"{fake}: not a readable image")
    mixed = cli("classify", fake, face_photos[0], "--model", MODEL)
    assert mixed.returncode == 1 and mixed.stdout  # the good image's faces are still printed


def test_run_into_a_pipe_that_closes_stops_quietly(face_photos):
    command = (f"set -o pipefail; {sys.executable} -m emotion_device.cli run --model {MODEL} "
               f"--source {face_photos[0]} --loop | head -n 2")
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr
