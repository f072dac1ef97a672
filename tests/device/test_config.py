import pytest

from emotion_device.config import Config, ConfigError, load_config, parse_config


def test_defaults_and_a_full_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("""
[device]
id = "hall"
[source]
uri = "picamera2"
max_fps = 10
[detector]
name = "haar"
every_n = 5
[detector.haar]
min_neighbors = 4
[tracking]
iou_threshold = 0.4
[smoothing]
alpha = 0.5
[output]
jsonl = "/var/log/emotion-edge/faces.jsonl"
""")
    config = load_config(path)
    assert config.device.id == "hall" and config.source.uri == "picamera2"
    assert config.source.max_fps == 10.0 and isinstance(config.source.max_fps, float)
    assert config.detector.every_n == 5 and config.detector.haar.min_neighbors == 4
    assert config.detector.haar.scale_factor == 1.1  # untouched default
    assert config.smoothing.alpha == 0.5
    assert load_config(None) == Config()


@pytest.mark.parametrize(("text", "message"), [
    ('[sorce]\nuri = "0"', r"unknown key 'sorce' \(did you mean source\?\)"),
    ("[detector]\nevery_m = 2", r"unknown key 'detector.every_m' \(did you mean detector.every_n\?\)"),
    ('[detector]\nevery_n = "5"', r"'detector.every_n' must be int, got '5'"),
    ("[detector.haar]\nmin_size = true", r"'detector.haar.min_size' must be int, got True"),
    ('[model]\ntta = "yes"', r"'model.tta' must be one of"),
    ("[model]\ntta = true", r"'model.tta' must be str, got True"),
    ("[model]\ntta_flip = true", r"unknown key 'model.tta_flip' \(replaced by model.tta = \"flip\"\)"),
    ("[detector]\nevery_n = 0", r"'detector.every_n' must be at least 1, got 0"),
    ("[smoothing]\nalpha = 2.0", r"'smoothing.alpha' must be more than 0 and at most 1, got 2.0"),
    ('source = "0"', r"\[source\] must be a table"),
    ("[source\nuri=1", r"not valid TOML"),
])
def test_errors_name_the_file_and_the_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_config(path)
    assert str(err.value).startswith(str(path))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_parse_config_accepts_a_dict():
    assert parse_config({"model": {"threads": 2}}).model.threads == 2


def test_model_tta_is_off_by_default_and_parses(tmp_path):
    assert Config().model.tta == "off"
    path = tmp_path / "config.toml"
    for mode in ("flip", "ten-crop"):
        path.write_text(f'[model]\ntta = "{mode}"\n')
        assert load_config(path).model.tta == mode


def test_the_example_config_is_valid_and_shows_the_defaults():
    from tests.conftest import REPO

    example = load_config(REPO / "device" / "config.example.toml")
    defaults = Config()
    example.device = defaults.device  # the host name differs per machine
    assert example == defaults
