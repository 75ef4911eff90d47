"""The output when none is configured (the virtual mic on Linux) and the echo warning: the
rules alone, then against the real PipeWire test server and the devices PortAudio sees there."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from livevoice.audio import virtual_mic as vm
from livevoice.audio.default_output import (
    echo_warning,
    is_system_default,
    plan_output,
    resolve_default_output,
)
from livevoice.audio.devices import DeviceInfo, list_devices
from livevoice.audio.sink_route import SinkRoute, choose_endpoint
from livevoice.config import AudioConfig, Config, replace
from livevoice.errors import DeviceError


def dev(index: int, name: str, *, default_in: bool = False, default_out: bool = False) -> DeviceInfo:
    return DeviceInfo(index, name, "ALSA", 2, 2, 48000.0, default_in, default_out)


def test_an_unset_output_is_the_virtual_mic_on_linux_only() -> None:
    linux = plan_output("", "linux")
    assert linux.spec == "livevoice_out" and linux.virtual_mic == vm.virtual_mic_names("livevoice")
    assert plan_output("  ", "linux").spec == "livevoice_out"
    assert plan_output("", "linux", "other").spec == "other_out"
    for platform in ("darwin", "win32"):
        assert plan_output("", platform).spec == "" and plan_output("", platform).virtual_mic is None
    # a chosen device is used as it is, the speakers included
    for chosen in ("default", "USB headset", "3"):
        assert (
            plan_output(chosen, "linux").spec == chosen and plan_output(chosen, "linux").virtual_mic is None
        )


def test_which_endpoints_count_as_the_system_default() -> None:
    route = SinkRoute("livevoice_out", "pipewire", (("PIPEWIRE_NODE", "livevoice_out"),))
    assert is_system_default(None, None, "output")
    assert is_system_default(dev(5, "HDA Intel: ALC", default_out=True), None, "output")
    assert not is_system_default(dev(5, "HDA Intel: ALC", default_out=True), None, "input")
    assert is_system_default(dev(1, "pipewire"), None, "output")
    assert is_system_default(dev(2, "Default"), None, "input")
    assert not is_system_default(dev(1, "pipewire"), route, "output")  # routed to a named node
    assert not is_system_default(dev(3, "USB headset"), None, "output")


def test_echo_warning_rule() -> None:
    mic, speakers, headset = dev(0, "default", default_in=True, default_out=True), None, dev(3, "USB headset")
    route = SinkRoute("livevoice_out", "pipewire", (("PIPEWIRE_NODE", "livevoice_out"),))
    audio = AudioConfig()
    warning = echo_warning(audio, {"input": mic, "output": speakers}, {})
    assert warning is not None and warning.startswith("echo risk: the microphone and the output device are")
    assert echo_warning(audio, {"input": mic, "output": headset}, {}) is None
    assert echo_warning(audio, {"input": headset, "output": speakers}, {}) is None
    assert echo_warning(audio, {"input": mic, "output": dev(1, "pipewire")}, {"output": route}) is None
    # the monitor counts too, when there is one
    monitored = AudioConfig(monitor_device="default")
    both = echo_warning(
        monitored, {"input": mic, "output": dev(1, "pipewire"), "monitor": mic}, {"output": route}
    )
    assert both is not None and "the microphone and the monitor device are" in both
    assert (
        echo_warning(audio, {"input": mic, "output": dev(1, "pipewire"), "monitor": None}, {"output": route})
        is None
    )


# -- on the test audio server ----------------------------------------------------------


@pytest.fixture
def pair_name(audio_rig: Path) -> Iterator[str]:
    name = f"lvdef{uuid.uuid4().hex[:6]}"
    yield name
    vm.remove_virtual_mic(name)


def open_like_the_daemon(audio: AudioConfig) -> tuple[dict[str, DeviceInfo | None], dict[str, SinkRoute]]:
    """Resolve the roles as the daemon does: a PortAudio device, or a route to a server node."""
    devices = list_devices(refresh=True)
    chosen: dict[str, DeviceInfo | None] = {}
    routes: dict[str, SinkRoute] = {}
    for role, spec, direction in (
        ("input", audio.input_device, "input"),
        ("output", audio.output_device, "output"),
        ("monitor", audio.monitor_device, "output"),
    ):
        if role == "monitor" and not spec:
            continue
        device, route = choose_endpoint(spec, direction, devices)  # type: ignore[arg-type]
        chosen[role] = device
        if route is not None:
            routes[role] = route
    return chosen, routes


@pytest.mark.rig
def test_an_unset_output_makes_and_uses_the_virtual_mic(pair_name: str) -> None:
    assert vm.virtual_mic_status(pair_name).absent
    made = resolve_default_output(Config(), platform="linux", name=pair_name)
    assert made.config.audio.output_device == f"{pair_name}_out"
    assert made.pactl_commands  # it was made now
    assert vm.virtual_mic_status(pair_name).complete
    assert made.ready_note() == (
        f'into the virtual mic: choose "{pair_name} virtual mic" as the microphone in Discord, OBS or a game'
    )
    # the output opens on PipeWire routed to the pair's sink, not on the default sink
    devices, routes = open_like_the_daemon(made.config.audio)
    assert routes["output"].sink == f"{pair_name}_out"
    assert echo_warning(made.config.audio, devices, routes) is None

    again = resolve_default_output(Config(), platform="linux", name=pair_name)
    assert again.pactl_commands == [] and again.config == made.config  # idempotent


@pytest.mark.rig
def test_a_chosen_output_is_left_alone(pair_name: str) -> None:
    config = replace(Config(), "audio", output_device="default")
    assert resolve_default_output(config, platform="linux", name=pair_name).config is config
    assert vm.virtual_mic_status(pair_name).absent
    assert resolve_default_output(Config(), platform="darwin", name=pair_name).config == Config()
    assert vm.virtual_mic_status(pair_name).absent


@pytest.mark.rig
def test_no_sound_server_is_one_line_and_never_the_speakers(
    audio_rig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "runtime"
    empty.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(empty))  # no server answers there
    with pytest.raises(DeviceError) as caught:
        resolve_default_output(Config(), platform="linux", name="lvdefnone")
    message = str(caught.value)
    assert message.startswith("no [audio] output_device is set and the virtual mic cannot be made: ")
    assert "no PipeWire or PulseAudio server is running" in message
    assert "\n" not in message
    with pytest.raises(DeviceError, match="pactl-missing is not installed"):
        resolve_default_output(Config(), platform="linux", pactl=vm.Pactl("pactl-missing"))


@pytest.mark.rig
def test_echo_warning_with_the_servers_devices(pair_name: str) -> None:
    vm.create_virtual_mic(pair_name)
    speakers = AudioConfig(output_device="default")
    devices, routes = open_like_the_daemon(speakers)
    assert echo_warning(speakers, devices, routes) is not None  # default mic + default output
    test_mic = AudioConfig(input_device="lvtest_mic", output_device="default")
    devices, routes = open_like_the_daemon(test_mic)
    assert echo_warning(test_mic, devices, routes) is None
    monitored = AudioConfig(output_device=f"{pair_name}_out", monitor_device="default")
    devices, routes = open_like_the_daemon(monitored)
    warning = echo_warning(monitored, devices, routes)
    assert warning is not None and "the microphone and the monitor device are" in warning
