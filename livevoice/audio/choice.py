"""Which devices the loop opens: the configured ones, found by name or index, or routed by node name."""

from __future__ import annotations

from dataclasses import dataclass

from livevoice.audio.devices import DeviceInfo, list_devices
from livevoice.audio.sink_route import SinkRoute, choose_endpoint
from livevoice.config import AudioConfig

ROLES = ("input", "output", "monitor")
"""The loop's devices: the microphone, the output (the virtual mic) and an optional monitor."""


@dataclass(frozen=True)
class DeviceChoice:
    """The devices of the loop: PortAudio devices, and routes to sound-server nodes by name."""

    devices: dict[str, DeviceInfo | None]
    """role ("input", "output", "monitor") -> device; None = the default (or no monitor)."""
    routes: dict[str, SinkRoute]
    """role -> route, for devices named by a PipeWire/PulseAudio sink or source name."""


def configured_devices(audio: AudioConfig) -> dict[str, str]:
    """role -> the device the config names ("" = the default; for the monitor: none)."""
    return {"input": audio.input_device, "output": audio.output_device, "monitor": audio.monitor_device}


def resolve_devices(audio: AudioConfig, *, refresh: bool = False) -> DeviceChoice:
    """The configured devices; DeviceError (one line) for one that does not exist.

    ``refresh`` asks PortAudio to look again (after a device came back).
    """
    devices = list_devices(refresh=refresh)
    chosen: dict[str, DeviceInfo | None] = {"monitor": None}
    routes: dict[str, SinkRoute] = {}
    for role, spec in configured_devices(audio).items():
        if role == "monitor" and not spec:
            continue
        device, route = choose_endpoint(spec, "input" if role == "input" else "output", devices)
        chosen[role] = device
        if route is not None:
            routes[role] = route
    return DeviceChoice(chosen, routes)


__all__ = ["ROLES", "DeviceChoice", "configured_devices", "resolve_devices"]
