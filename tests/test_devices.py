"""Choosing devices by name or index; the real device list on the PipeWire rig."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from livevoice.audio.devices import DeviceInfo, choose_device
from livevoice.errors import DeviceError


def dev(index: int, name: str, inputs: int = 1, outputs: int = 1, **kw: bool) -> DeviceInfo:
    return DeviceInfo(index, name, "ALSA", inputs, outputs, 48000.0, kw.get("di", False), kw.get("do", False))


DEVICES = [
    dev(0, "Built-in Microphone", 2, 0, di=True),
    dev(1, "Built-in Speakers", 0, 2, do=True),
    dev(2, "livevoice_out", 64, 64),
    dev(3, "USB Headset Mic", 1, 0),
    dev(4, "USB Headset", 0, 2),
]


def test_by_index_name_substring_and_default() -> None:
    assert choose_device("3", "input", DEVICES) == DEVICES[3]
    assert choose_device("headset mic", "input", DEVICES) == DEVICES[3]
    assert choose_device("usb headset", "output", DEVICES) == DEVICES[4]  # exact name wins
    assert choose_device("", "input", DEVICES) == DEVICES[0]
    assert choose_device("", "output", DEVICES) == DEVICES[1]
    assert choose_device("livevoice", "output", DEVICES) == DEVICES[2]


def test_clear_errors() -> None:
    with pytest.raises(
        DeviceError, match="no input device with index 1; input devices: 0: 'Built-in Microphone'"
    ):
        choose_device("1", "input", DEVICES)
    with pytest.raises(DeviceError, match="no output device matches 'hdmi'"):
        choose_device("hdmi", "output", DEVICES)
    with pytest.raises(
        DeviceError,
        match="input device 'usb' is ambiguous: it matches 3: 'USB Headset Mic', 5: 'USB Webcam Mic'",
    ):
        choose_device("usb", "input", [*DEVICES, dev(5, "USB Webcam Mic", 1, 0)])
    assert choose_device("", "input", [dev(0, "x", 0, 2)]) is None


@pytest.mark.rig
def test_devices_command_lists_the_rig_devices(audio_rig: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "livevoice.cli", "devices", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    names = [json.loads(line)["name"] for line in result.stdout.splitlines()]
    assert "lvtest_mic" in names


@pytest.mark.rig
def test_unknown_device_is_one_line(audio_rig: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "livevoice.cli", "listen", "--input", "no-such-mic"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("livevoice: error: no input device matches 'no-such-mic'")
    )
