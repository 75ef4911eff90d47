"""Notice when a sound-server device a stream plays into (or records from) disappears.

PipeWire and PulseAudio do not fail a stream whose sink or source goes away: they move
it to the default device. For livevoice that would be the worst outcome: your converted
voice playing through your speakers, or your room feeding the converter, after the
virtual mic was removed. So when a configured device name is a sound-server node name
(e.g. ``output_device = "livevoice_out"``), the daemon watches that node by name with
``pactl`` and treats its disappearance as a lost device.
"""

from __future__ import annotations

from dataclasses import dataclass

from livevoice.audio.virtual_mic import AudioServerError, Pactl, parse_short_list


@dataclass(frozen=True, slots=True)
class ServerNodes:
    """The sink and source names the sound server has right now."""

    sinks: frozenset[str]
    sources: frozenset[str]

    def has(self, role: str, name: str) -> bool:
        """Whether the node a ``role`` ("input", "output", "monitor") device names exists."""
        return name in (self.sources if role == "input" else self.sinks)


def read_nodes(pactl: Pactl | None = None) -> ServerNodes | None:
    """The server's nodes, or None when there is no pactl or no server to ask."""
    pactl = pactl or Pactl(timeout_s=2.0)
    try:
        sinks = parse_short_list(pactl.run("list", "short", "sinks"))
        sources = parse_short_list(pactl.run("list", "short", "sources"))
    except AudioServerError:
        return None
    return ServerNodes(frozenset(sinks), frozenset(sources))


def nodes_to_watch(devices: dict[str, str], nodes: ServerNodes | None) -> dict[str, str]:
    """role -> node name, for the configured devices (role -> spec) that are server nodes."""
    if nodes is None:
        return {}
    return {role: spec for role, spec in devices.items() if spec and nodes.has(role, spec)}


def missing_nodes(watched: dict[str, str], nodes: ServerNodes | None) -> dict[str, str]:
    """role -> node name of the watched nodes that are gone (none if the server cannot be asked)."""
    if nodes is None:
        return {}
    return {role: name for role, name in watched.items() if not nodes.has(role, name)}
