"""The output side: rings and playback streams for the output device and the monitor.

Producers (the TTS worker, passthrough) call :meth:`AudioOutput.write`, which blocks
while the output ring is full (back-pressure on a producer faster than real time,
never a silent drop) unless told not to wait. The monitor ring is best effort: it
never holds the main output back, and what does not fit is counted as its overrun.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import numpy as np

from livevoice.audio.budget import BufferPlan
from livevoice.audio.devices import DeviceInfo
from livevoice.audio.ring import RingBuffer
from livevoice.audio.sink_route import SinkRoute
from livevoice.audio.streams import PlaybackStream
from livevoice.frames import FloatArray


class AudioOutput:
    """Output device (+ optional monitor) fed through rings sized by the budget plan."""

    def __init__(
        self,
        plan: BufferPlan,
        device: DeviceInfo | None,
        monitor: DeviceInfo | None,
        routes: Mapping[str, SinkRoute] | None = None,
    ) -> None:
        routes = routes or {}
        self.plan = plan
        self.ring = RingBuffer(plan.output_ring_samples)
        self.stream = PlaybackStream(
            device, plan.sample_rate, plan.block_samples, self.ring, routes.get("output")
        )
        self.monitor_ring: RingBuffer | None = None
        self.monitor: PlaybackStream | None = None
        if monitor is not None:
            self.monitor_ring = RingBuffer(plan.output_ring_samples)
            self.monitor = PlaybackStream(
                monitor, plan.sample_rate, plan.block_samples, self.monitor_ring, routes.get("monitor")
            )
        self._lock = threading.Lock()  # one producer at a time (TTS worker, passthrough)
        self.level = (0.0, 0.0)
        """(peak, rms) of the last audio queued, linear full scale."""

    def start(self) -> None:
        self.stream.start()
        if self.monitor is not None:
            self.monitor.start()

    def close(self) -> None:
        self.stream.close()
        if self.monitor is not None:
            self.monitor.close()

    @property
    def sample_rate(self) -> int:
        return self.plan.sample_rate

    def write(
        self, samples: FloatArray, *, wait: bool = True, cancelled: threading.Event | None = None
    ) -> int:
        """Queue samples for playback; returns the ring position of the first one.

        With ``wait`` the call blocks while the ring is full (until ``cancelled`` is set
        or the stream is gone); without it, what does not fit is dropped and counted.
        """
        if len(samples):
            self.level = (float(np.max(np.abs(samples))), float(np.sqrt(np.mean(samples * samples))))
        with self._lock:
            start = self.ring.write_pos
            if self.monitor_ring is not None:
                self.monitor_ring.write(samples)
            if not wait:
                self.ring.write(samples)
                return start
            done = 0
            while done < len(samples):
                room = self.ring.free
                if room == 0:
                    if (cancelled is not None and cancelled.is_set()) or not self.stream.active:
                        self.ring.write(samples[done:])  # counted as overrun
                        break
                    time.sleep(self.plan.block_ms / 1000)
                    continue
                done += self.ring.write(samples[done : done + room])
            return start

    def played(self, position: int) -> bool:
        """The sample at ring ``position`` has left the ring for the device."""
        return self.ring.read_pos > position

    def time_of(self, position: int) -> int:
        """Monotonic ns at which the sample at ``position`` left (or leaves) the ring."""
        return self.stream.time_of(position)

    def drained(self) -> bool:
        return self.ring.available == 0

    def clear(self) -> int:
        """Drop everything queued (StopSpeaking); the callbacks skip it. Returns samples dropped."""
        dropped = self.ring.request_clear()
        if self.monitor_ring is not None:
            self.monitor_ring.request_clear()
        return dropped

    def counters(self) -> dict[str, int]:
        counters = {
            "outputUnderruns": self.ring.underrun_events,
            "outputUnderrunSamples": self.ring.underrun_samples,
            "outputOverrunSamples": self.ring.overrun_samples,
            "outputDeviceFlags": self.stream.device_flag_count,
        }
        if self.monitor_ring is not None:
            counters["monitorOverrunSamples"] = self.monitor_ring.overrun_samples
        return counters
