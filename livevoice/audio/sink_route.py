"""Play into a PipeWire or PulseAudio sink chosen by its name, through PortAudio.

PortAudio reaches PipeWire and PulseAudio through ALSA, where only the ``pipewire``,
``pulse`` and ``default`` devices are listed (plus named PCMs from an asoundrc), not each
sink. Their ALSA plugins read the target sink from the environment when a stream is
opened: ``PIPEWIRE_NODE`` for the ``pipewire`` device, ``PULSE_SINK`` for ``pulse``. A
:class:`SinkRoute` is the device and those variables; :meth:`SinkRoute.applied` sets them
only while a stream is being opened, so another stream of the process (the monitor, the
microphone) keeps its own device.

This lets ``[audio] output_device = "livevoice_out"`` work on a desktop with no ALSA
configuration: when no PortAudio device has that name but a sink does, the stream is
opened on ``pipewire`` (or ``pulse``) routed to that sink. Microphones work the same way
(``input_device`` = a source name; ``PULSE_SOURCE`` for ``pulse``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from livevoice.audio.devices import DeviceInfo, Direction, choose_device
from livevoice.audio.virtual_mic import AudioServerError, Pactl, parse_short_list
from livevoice.errors import DeviceError

_env_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class SinkRoute:
    """How to open a PortAudio output stream that plays into ``sink``."""

    sink: str
    """The sink's node name, e.g. ``livevoice_out``."""
    portaudio_device: str
    """The PortAudio device to open: ``pipewire`` or ``pulse``."""
    env: tuple[tuple[str, str], ...]
    """Variables its ALSA plugin reads when the stream opens: ``PIPEWIRE_NODE`` or ``PULSE_SINK``.

    If the sink vanishes while the stream plays, the sound server moves the stream to the
    default sink (``node.dont-reconnect`` in ``PIPEWIRE_PROPS`` would stop that, but then
    PortAudio's ALSA thread spins at full CPU), so whoever plays should watch that the sink
    still exists (:func:`find_sink_route`) and report the device lost otherwise."""

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Set :attr:`env` for the duration of a stream open, then restore the old values.

        Open the stream (``sounddevice.OutputStream(...)``) inside the block; the plugin
        reads the variables at that moment and the stream keeps its target afterwards.
        Serialised by a lock, as two routed opens at once would race on the variables.
        """
        with _env_lock:
            previous = {key: os.environ.get(key) for key, _ in self.env}
            os.environ.update(self.env)
            try:
                yield
            finally:
                for key, value in previous.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value


def route_for_sink(sink: str, portaudio_outputs: Sequence[str]) -> SinkRoute | None:
    """The route to ``sink`` given the names of PortAudio's output devices; None if none reaches it."""
    if "pipewire" in portaudio_outputs:
        return SinkRoute(sink, "pipewire", (("PIPEWIRE_NODE", sink),))
    if "pulse" in portaudio_outputs:
        return SinkRoute(sink, "pulse", (("PULSE_SINK", sink),))
    return None


def find_sink_route(
    name: str, portaudio_outputs: Sequence[str], pactl: Pactl | None = None
) -> SinkRoute | None:
    """A route to the sink called ``name`` if the sound server has one and PortAudio can reach it.

    Asks the server (``pactl list short sinks``), so a mistyped name is not silently sent
    to the default sink. Returns None when there is no such sink or no ``pipewire``/``pulse``
    device; raises :class:`~livevoice.audio.virtual_mic.AudioServerError` when pactl or
    the server is missing.
    """
    route = route_for_sink(name, portaudio_outputs)
    if route is None:
        return None
    sinks = parse_short_list((pactl or Pactl()).run("list", "short", "sinks"))
    return route if name in sinks else None


def route_for_source(source: str, portaudio_inputs: Sequence[str]) -> SinkRoute | None:
    """The route to record from ``source`` (a microphone node) given PortAudio's input devices."""
    if "pipewire" in portaudio_inputs:
        return SinkRoute(source, "pipewire", (("PIPEWIRE_NODE", source),))
    if "pulse" in portaudio_inputs:
        return SinkRoute(source, "pulse", (("PULSE_SOURCE", source),))
    return None


def _find_route(name: str, direction: Direction, portaudio_names: Sequence[str]) -> SinkRoute | None:
    """A route to the sink (output) or source (input) called ``name``, if the server has one."""
    if direction == "output":
        return find_sink_route(name, portaudio_names)
    route = route_for_source(name, portaudio_names)
    if route is None:
        return None
    sources = parse_short_list(Pactl().run("list", "short", "sources"))
    return route if name in sources else None


def choose_endpoint(
    spec: str, direction: Direction, devices: Sequence[DeviceInfo]
) -> tuple[DeviceInfo | None, SinkRoute | None]:
    """The device for ``spec``: a PortAudio device, else a sound-server node of that name.

    A PortAudio device name or index wins. When none matches, a sink (output) or source
    (input) called ``spec`` is reached through PortAudio's ``pipewire``/``pulse`` device
    with a :class:`SinkRoute`; when the server has no such node either, the original
    one-line DeviceError stands.
    """
    try:
        return choose_device(spec, direction, list(devices)), None
    except DeviceError as err:
        usable = [
            d for d in devices if (d.max_output_channels if direction == "output" else d.max_input_channels)
        ]
        names = [d.name for d in usable]
        try:
            route = _find_route(spec, direction, names)
        except AudioServerError:
            route = None
        if route is None:
            raise err from None
        device = next(d for d in usable if d.name == route.portaudio_device)
        return device, route
