"""Config: defaults in one place, documented file in sync, one-line errors."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from livevoice.config import Config, config_from_dict, load_config, replace
from livevoice.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_default_toml_matches_the_dataclass_defaults() -> None:
    documented = load_config(ROOT / "configs" / "default.toml")
    assert documented == Config()


def test_default_toml_documents_every_key_with_a_comment() -> None:
    text = (ROOT / "configs" / "default.toml").read_text()
    data = tomllib.loads(text)
    lines = text.splitlines()
    for section in dataclasses.fields(Config):
        assert section.name in data, f"[{section.name}] missing from configs/default.toml"
        for key in dataclasses.fields(getattr(Config(), section.name)):
            assert key.name in data[section.name], f"{section.name}.{key.name} missing"
            index = next(i for i, line in enumerate(lines) if line.startswith(f"{key.name} ="))
            assert lines[index - 1].startswith("#"), f"{section.name}.{key.name} has no comment above it"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"audio": {"sample_rat": 48000}}, "unknown config key audio.sample_rat"),
        ({"nope": {}}, "unknown config section [nope]"),
        ({"audio": {"sample_rate": 12345}}, "audio.sample_rate = 12345 is not allowed; allowed: 16000"),
        (
            {"audio": {"latency_budget_ms": 10}},
            "audio.latency_budget_ms = 10 is out of range; allowed: 60 to 5000",
        ),
        ({"vad": {"threshold": "high"}}, "vad.threshold = 'high' is not a number"),
        ({"asr": {"beam_size": True}}, "asr.beam_size = True is not an integer"),
        ({"control": {"allowed_origins": "x"}}, "control.allowed_origins = 'x' is not a list of strings"),
        ({"asr": "tiny"}, "config key asr must be a table"),
    ],
)
def test_bad_values_name_key_value_and_what_is_allowed(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_dict(data)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_values_are_typed_and_frozen() -> None:
    config = config_from_dict(
        {
            "vad": {"threshold": 1 // 2 + 0.6, "min_silence_ms": 300},
            "control": {"allowed_origins": ["http://a"]},
        }
    )
    assert config.vad.threshold == 0.6 and config.vad.min_silence_ms == 300
    assert config.control.allowed_origins == ("http://a",)
    assert config.asr == Config().asr
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.vad.threshold = 0.1  # type: ignore[misc]


def test_replace_validates_like_the_file() -> None:
    config = replace(Config(), "audio", input_device="mic")
    assert config.audio.input_device == "mic"
    with pytest.raises(ConfigError, match=r"control\.port = 70000 is out of range"):
        replace(config, "control", port=70000)
    # a section with a list value keeps it when another key changes
    origins = replace(Config(), "control", allowed_origins=("http://a",))
    assert replace(origins, "control", port=5).control == dataclasses.replace(origins.control, port=5)


def test_unreadable_files_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[audio\nx=")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(broken)


def test_cli_reports_a_bad_config_in_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[vad]\nmin_silence_ms = -5\n")
    result = subprocess.run(
        [sys.executable, "-m", "livevoice.cli", "--config", str(bad), "transcribe", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "livevoice: error: config key vad.min_silence_ms = -5 is out of range; allowed: 32 to 5000"
    ]
