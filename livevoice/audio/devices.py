"""Finding audio devices by name (substring) or index, through sounddevice/PortAudio."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from livevoice.errors import DeviceError

Direction = Literal["input", "output"]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One PortAudio device."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate: float
    is_default_input: bool
    is_default_output: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "hostapi": self.hostapi,
            "inputs": self.max_input_channels,
            "outputs": self.max_output_channels,
            "default_sample_rate": self.default_sample_rate,
            "default_input": self.is_default_input,
            "default_output": self.is_default_output,
        }


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as err:  # PortAudio library missing
        raise DeviceError(f"audio is unavailable: {err} (install PortAudio, e.g. libportaudio2)") from None
    return sounddevice


def list_devices(*, refresh: bool = False) -> list[DeviceInfo]:
    """Every device PortAudio sees. ``refresh`` re-scans (PortAudio caches the list)."""
    sd = _sounddevice()
    if refresh:
        sd._terminate()
        sd._initialize()
    hostapis = sd.query_hostapis()
    default_in, default_out = sd.default.device
    devices = []
    for index, dev in enumerate(sd.query_devices()):
        devices.append(
            DeviceInfo(
                index=index,
                name=str(dev["name"]),
                hostapi=str(hostapis[dev["hostapi"]]["name"]),
                max_input_channels=int(dev["max_input_channels"]),
                max_output_channels=int(dev["max_output_channels"]),
                default_sample_rate=float(dev["default_samplerate"]),
                is_default_input=index == default_in,
                is_default_output=index == default_out,
            )
        )
    return devices


def choose_device(spec: str, direction: Direction, devices: list[DeviceInfo]) -> DeviceInfo | None:
    """Pick a device by index or case-insensitive name substring; ``""`` = the default.

    Returns None for the default when PortAudio has none. An exact name match wins over
    substring matches; several substring matches are an error naming them.
    """
    usable = [
        d for d in devices if (d.max_input_channels if direction == "input" else d.max_output_channels) > 0
    ]
    spec = spec.strip()
    if spec == "":
        for d in usable:
            if d.is_default_input if direction == "input" else d.is_default_output:
                return d
        return None
    if spec.isdigit():
        index = int(spec)
        for d in usable:
            if d.index == index:
                return d
        raise DeviceError(f"no {direction} device with index {index}; {direction} devices: {_names(usable)}")
    exact = [d for d in usable if d.name.lower() == spec.lower()]
    if exact:
        return exact[0]
    matches = [d for d in usable if spec.lower() in d.name.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise DeviceError(f"no {direction} device matches {spec!r}; {direction} devices: {_names(usable)}")
    raise DeviceError(f"{direction} device {spec!r} is ambiguous: it matches {_names(matches)}")


def _names(devices: list[DeviceInfo]) -> str:
    if not devices:
        return "(none)"
    return ", ".join(f"{d.index}: {d.name!r}" for d in devices)


def format_device_table(devices: list[DeviceInfo]) -> str:
    """The table ``livevoice devices`` prints."""
    lines = [f"{'':2}{'idx':>3}  {'in':>3} {'out':>3}  {'rate':>6}  {'host api':<12} name"]
    for d in devices:
        mark = ("<" if d.is_default_input else " ") + (">" if d.is_default_output else " ")
        lines.append(
            f"{mark}{d.index:>3}  {d.max_input_channels:>3} {d.max_output_channels:>3}  "
            f"{d.default_sample_rate:>6.0f}  {d.hostapi:<12} {d.name}"
        )
    lines.append("(< default input, > default output; choose by index or by a part of the name)")
    return "\n".join(lines)
