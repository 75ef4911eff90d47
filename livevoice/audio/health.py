"""Device health: notice a stream that died or stalled, or whose sound-server node is gone.

The daemon's main loop calls :meth:`DeviceHealth.check` a few times a second with the
loop's streams; a role newly lost is recorded and returned, and the daemon closes the
loop. Reopening waits until :meth:`DeviceHealth.may_reopen` (a watched node that is still
missing would make PipeWire play into the default device instead: your converted voice
through your speakers); once reopened, :meth:`DeviceHealth.restored` clears the losses.

Bookkeeping only: the streams report their callback counts and whether they finished,
the sound server is asked through ``read_nodes`` (pactl; injectable). Counts are kept
as a counter (:attr:`DeviceHealth.lost_total`, every loss since start) and a gauge
(:attr:`DeviceHealth.missing`, devices gone right now).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from livevoice.audio.node_watch import ServerNodes, missing_nodes, nodes_to_watch, read_nodes

log = logging.getLogger(__name__)

STALL_S = 2.0
"""A stream without a callback for this long counts as lost (s)."""
NODE_CHECK_S = 1.0
"""How often the sound server's node list is read (s)."""


class WatchedStream(Protocol):
    """What a capture or playback stream tells about its health."""

    @property
    def callbacks(self) -> int:
        """Callbacks so far (grows while the device runs)."""
        ...

    @property
    def finished(self) -> bool:
        """The stream stopped (PortAudio ended it: device gone)."""
        ...


@dataclass
class DeviceHealth:
    """Health of the loop's devices, checked by the daemon's main loop (one thread)."""

    nodes: dict[str, str] = field(default_factory=dict)
    """role -> sound-server node name, for devices configured by a node's name."""
    read: Callable[[], ServerNodes | None] = read_nodes
    """Lists the sound server's nodes (None when it cannot be asked)."""
    stall_s: float = STALL_S
    node_check_s: float = NODE_CHECK_S
    lost: dict[str, str] = field(default_factory=dict)
    """role -> reason, while a device is gone."""
    lost_total: int = 0
    """Devices lost since start (a counter: never goes down)."""
    checks: int = 0
    """Checks so far (how long the daemon has been watching, in its own steps)."""
    _callbacks: dict[str, int] = field(default_factory=dict)
    _changed_s: dict[str, float] = field(default_factory=dict)
    _nodes_checked_s: float | None = None

    def watch(self, devices: Mapping[str, str]) -> None:
        """Watch the configured devices (role -> spec) that are server nodes by name (at start
        and after a device change)."""
        self.nodes = nodes_to_watch(dict(devices), self.read())
        if self.nodes:
            log.info("watching sound-server devices %s", self.nodes)

    @property
    def missing(self) -> int:
        """Devices gone right now (a gauge)."""
        return len(self.lost)

    def check(self, streams: Mapping[str, WatchedStream], now_s: float) -> dict[str, str]:
        """Look at the streams (role -> stream) and, every :attr:`node_check_s`, at the server's
        nodes; returns the roles newly lost (role -> reason), already counted."""
        self.checks += 1
        problems: dict[str, str] = {}
        for role, stream in streams.items():
            calls = stream.callbacks
            if calls != self._callbacks.get(role):
                self._callbacks[role] = calls
                self._changed_s[role] = now_s
            if stream.finished:
                problems[role] = "the stream stopped"
            elif now_s - self._changed_s[role] > self.stall_s:
                problems[role] = f"no audio callbacks for {self.stall_s:g} s"
        last = self._nodes_checked_s
        if self.nodes and (last is None or now_s - last >= self.node_check_s):
            self._nodes_checked_s = now_s
            for role, node in missing_nodes(self.nodes, self.read()).items():
                problems.setdefault(role, f"the sound server has no device {node!r} any more")
        new = {role: reason for role, reason in problems.items() if role not in self.lost}
        self.lost.update(new)
        self.lost_total += len(new)
        return new

    def may_reopen(self) -> bool:
        """Whether the devices may be opened again: every watched node exists (or the server
        cannot be asked)."""
        return not (self.nodes and missing_nodes(self.nodes, self.read()))

    def restored(self) -> list[str]:
        """The loop was reopened: the roles that were lost, now cleared; stall timing starts again."""
        roles = list(self.lost)
        self.lost.clear()
        self._callbacks.clear()
        self._changed_s.clear()
        return roles


__all__ = ["NODE_CHECK_S", "STALL_S", "DeviceHealth", "WatchedStream"]
