"""Where the converted voice goes when no output is configured, and when to warn about echo.

A new user without headphones who gets the converted voice on the speakers gets an echo
loop: the microphone hears it, and it is spoken again. So on Linux an unset
``[audio] output_device`` means the virtual mic (made on the spot, idempotently, with
:func:`~livevoice.audio.virtual_mic.create_virtual_mic`); the speakers are used only when
chosen (``output_device = "default"`` or a device's name). Elsewhere (Windows, macOS:
no virtual mic of livevoice's own) it stays the system default output.

Even then a user can choose their default microphone and default speakers; when input
and output (or the monitor) are both the system's default devices, :func:`echo_warning`
gives the line the daemon adds to its ready line.

Pure core: :func:`plan_output`, :func:`is_system_default`, :func:`echo_warning`. Shell:
:func:`resolve_default_output` asks the sound server.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from livevoice.audio.devices import DeviceInfo, Direction
from livevoice.audio.sink_route import SinkRoute
from livevoice.audio.virtual_mic import (
    DEFAULT_NAME,
    AudioServerError,
    Pactl,
    VirtualMicNames,
    create_virtual_mic,
    virtual_mic_names,
)
from livevoice.config import AudioConfig, Config, replace
from livevoice.errors import DeviceError

SERVER_DEFAULT_DEVICES = frozenset({"default", "sysdefault", "pipewire", "pulse"})
"""PortAudio (ALSA) devices that play to / record from the sound server's default node."""


@dataclass(frozen=True, slots=True)
class OutputPlan:
    """What an ``output_device`` setting means on a platform."""

    spec: str
    """The device spec to open: as configured, the virtual mic's sink, or "" (system default)."""
    virtual_mic: VirtualMicNames | None = None
    """The virtual mic pair to make first, when the output is livevoice's virtual mic."""


def plan_output(output_device: str, platform: str = sys.platform, name: str = DEFAULT_NAME) -> OutputPlan:
    """The output for the ``[audio] output_device`` setting: a chosen device as it is; unset,
    the virtual mic ``name`` on Linux and the system default elsewhere."""
    if output_device.strip():
        return OutputPlan(output_device)
    if platform.startswith("linux"):
        names = virtual_mic_names(name)
        return OutputPlan(names.sink, names)
    return OutputPlan("")


@dataclass(frozen=True, slots=True)
class DefaultOutput:
    """The config with its output filled in, and what was done to get there."""

    config: Config
    """The config to run with: ``audio.output_device`` names the virtual mic's sink when it is used."""
    virtual_mic: VirtualMicNames | None = None
    """The virtual mic the output plays into; None when the output was configured (or not Linux)."""
    pactl_commands: list[list[str]] = field(default_factory=list)
    """The ``pactl`` commands that made or repaired the pair ([] = it was ready)."""

    def speaking(self, device_name: str) -> str:
        """Where the ready line says the daemon speaks, the output being ``device_name``."""
        return self.ready_note() or f"into {device_name!r}"

    def ready_note(self) -> str:
        """What the ready line says about the output ("" when it is a configured device)."""
        if self.virtual_mic is None:
            return ""
        return (
            f'into the virtual mic: choose "{self.virtual_mic.source_description}" as the microphone in '
            "Discord, OBS or a game"
        )


def resolve_default_output(
    config: Config,
    *,
    platform: str = sys.platform,
    pactl: Pactl | None = None,
    name: str = DEFAULT_NAME,
) -> DefaultOutput:
    """``config`` with an unset output resolved (:func:`plan_output`), the virtual mic made if
    it is the output. Call before the devices are opened, and again at a reload.

    Raises :class:`~livevoice.errors.DeviceError` (one line) when the virtual mic is needed
    but cannot be made: livevoice never falls back to the speakers on its own.
    """
    plan = plan_output(config.audio.output_device, platform, name)
    if plan.virtual_mic is None:
        return DefaultOutput(config)
    try:
        _, commands = create_virtual_mic(plan.virtual_mic.name, pactl)
    except AudioServerError as err:
        raise DeviceError(
            f"no [audio] output_device is set and the virtual mic cannot be made: {err}; "
            'or set output_device ("default" = your speakers, `livevoice devices` lists the others)'
        ) from None
    return DefaultOutput(replace(config, "audio", output_device=plan.spec), plan.virtual_mic, commands)


def is_system_default(device: DeviceInfo | None, route: SinkRoute | None, direction: Direction) -> bool:
    """Whether an opened endpoint is the system's default microphone (input) or speakers (output).

    None (PortAudio's default), the device PortAudio marks as default, or a device that plays
    to the sound server's default node (``default``, ``pipewire``, ``pulse``) without a route
    to a named node. Whether that default is a loudspeaker or a headset cannot be told here.
    """
    if route is not None:
        return False
    if device is None:
        return True
    if device.is_default_input if direction == "input" else device.is_default_output:
        return True
    return device.name.strip().lower() in SERVER_DEFAULT_DEVICES


def echo_warning(
    audio: AudioConfig,
    devices: Mapping[str, DeviceInfo | None],
    routes: Mapping[str, SinkRoute],
) -> str | None:
    """The echo warning for the ready line, or None.

    ``devices`` / ``routes``: role ("input", "output", "monitor") -> the device opened (None
    = PortAudio's default) and its route to a named node, as the daemon resolved them;
    ``audio`` says whether a monitor is configured. Warns when the microphone and the
    output (or the monitor) are both the system's default devices.
    """
    if not is_system_default(devices.get("input"), routes.get("input"), "input"):
        return None
    roles = [
        role
        for role in ("output", "monitor")
        if (role == "output" or audio.monitor_device.strip())
        and is_system_default(devices.get(role), routes.get(role), "output")
    ]
    if not roles:
        return None
    what = " and the ".join(f"{role} device" for role in roles)
    return (
        f"echo risk: the microphone and the {what} are the system defaults; if those are a "
        "loudspeaker and its microphone, the converted voice is heard and spoken again. Use "
        "headphones, or leave [audio] output_device unset to play into the virtual mic"
    )


__all__ = [
    "SERVER_DEFAULT_DEVICES",
    "DefaultOutput",
    "OutputPlan",
    "echo_warning",
    "is_system_default",
    "plan_output",
    "resolve_default_output",
]
