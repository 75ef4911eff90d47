"""Device health, the pure bookkeeping: streams that stop or stall, sound-server nodes that go,
a counter of losses and a gauge of what is missing. The streams here are plain records of what
real streams report (their callback count and whether they finished); the rig tests
(test_daemon_faults) run the same code on real devices."""

from __future__ import annotations

from dataclasses import dataclass

from livevoice.audio.health import DeviceHealth
from livevoice.audio.node_watch import ServerNodes


@dataclass
class Stream:
    callbacks: int = 0
    finished: bool = False


class Server:
    """The sound server's node list as the test sets it; counts how often it was asked."""

    def __init__(self, sinks: set[str], sources: set[str]) -> None:
        self.sinks, self.sources = sinks, sources
        self.reads = 0
        self.answering = True

    def __call__(self) -> ServerNodes | None:
        self.reads += 1
        return ServerNodes(frozenset(self.sinks), frozenset(self.sources)) if self.answering else None


def test_a_stalled_stream_is_lost_once_and_counted() -> None:
    health = DeviceHealth(stall_s=2.0)
    mic, out = Stream(), Stream()
    streams = {"input": mic, "output": out}
    assert health.check(streams, 0.0) == {}
    for t in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0):
        mic.callbacks += 1
        out.callbacks += 1 if t < 1.0 else 0  # the output's last callback comes at 0.5 s
        lost = health.check(streams, t)
        assert lost == ({"output": "no audio callbacks for 2 s"} if t == 3.0 else {}), t  # more than 2 s
    assert health.check(streams, 3.5) == {}  # already known
    assert (health.lost_total, health.missing, health.checks) == (1, 1, 8)


def test_a_finished_stream_is_lost_at_once_and_a_restore_clears_the_gauge_only() -> None:
    health = DeviceHealth()
    assert health.check({"input": Stream(finished=True)}, 0.0) == {"input": "the stream stopped"}
    assert health.restored() == ["input"]
    assert (health.lost_total, health.missing) == (1, 0)
    assert health.restored() == []  # nothing lost any more
    fresh = Stream(callbacks=5)
    assert health.check({"input": fresh}, 10.0) == {}  # stall timing starts again
    assert health.check({"input": Stream(finished=True)}, 10.5) == {"input": "the stream stopped"}
    assert (health.lost_total, health.missing) == (2, 1)


def test_a_watched_node_that_goes_is_lost_and_reopening_waits_for_it() -> None:
    server = Server({"livevoice_out", "speakers"}, {"usb_mic"})
    health = DeviceHealth(read=server, node_check_s=1.0)
    health.watch({"input": "usb_mic", "output": "livevoice_out", "monitor": ""})
    assert health.nodes == {"input": "usb_mic", "output": "livevoice_out"}
    out = Stream()
    assert health.check({"output": out}, 0.0) == {}
    server.sinks.discard("livevoice_out")
    out.callbacks += 1  # PipeWire moves the stream elsewhere: it keeps running
    assert health.check({"output": out}, 0.5) == {}  # the node list is read once a second
    reason = "the sound server has no device 'livevoice_out' any more"
    assert health.check({"output": out}, 1.0) == {"output": reason}
    assert not health.may_reopen()
    server.sinks.add("livevoice_out")
    assert health.may_reopen()
    assert health.restored() == ["output"]


def test_a_server_that_cannot_be_asked_loses_nothing() -> None:
    server = Server(set(), set())
    server.answering = False
    health = DeviceHealth(read=server)
    health.nodes = {"output": "livevoice_out"}
    assert health.check({}, 0.0) == {}
    assert health.may_reopen()
    assert server.reads == 2
