"""Capture and playback streams: sounddevice callbacks around ring buffers.

The callbacks only copy between the device buffer and a preallocated
:class:`~livevoice.audio.ring.RingBuffer` and record a timing anchor; they never
allocate arrays, lock, block or raise. Device-level overflow/underflow flags from
PortAudio are counted separately from ring overruns/underruns.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import numpy as np

from livevoice.audio.devices import DeviceInfo, _sounddevice
from livevoice.audio.ring import RingBuffer
from livevoice.audio.sink_route import SinkRoute
from livevoice.errors import DeviceError

log = logging.getLogger(__name__)


class _Stream:
    """What capture and playback share: open/close, liveness, a timing anchor."""

    def __init__(
        self,
        device: DeviceInfo | None,
        sample_rate: int,
        block_samples: int,
        ring: RingBuffer,
        route: SinkRoute | None = None,
    ):
        self.device = device
        self.route = route
        """Set when ``device`` is the sound server's device, routed to a sink by name."""
        self.sample_rate = sample_rate
        self.block_samples = block_samples
        self.ring = ring
        self.device_flag_count = 0
        """Callbacks in which PortAudio reported an over/underflow of its own buffers."""
        self.anchor: tuple[int, int] = (0, 0)
        """(ring position, monotonic ns) at the last callback: maps sample positions to time."""
        self.callbacks = 0
        self._stream: Any = None
        self.finished = False
        """True once PortAudio stopped the stream on its own (device lost)."""

    @property
    def device_name(self) -> str:
        if self.route is not None:
            return self.route.sink
        return self.device.name if self.device else "default"

    def _open(self, kind: str, callback: Any) -> None:
        sd = _sounddevice()
        cls = sd.InputStream if kind == "input" else sd.OutputStream
        try:
            with self.route.applied() if self.route is not None else contextlib.nullcontext():
                self._stream = cls(
                    device=self.device.index if self.device else None,
                    samplerate=self.sample_rate,
                    blocksize=self.block_samples,
                    channels=1,
                    dtype="float32",
                    latency="low",
                    callback=callback,
                    finished_callback=self._on_finished,
                )
            self._stream.start()
        except sd.PortAudioError as err:
            self._stream = None
            raise DeviceError(f"cannot open {kind} device {self.device_name!r}: {err}") from None
        self.finished = False
        log.info(
            "%s %r open: %d Hz, block %d, latency %.1f ms",
            kind,
            self.device_name,
            self.sample_rate,
            self.block_samples,
            1000 * float(self._stream.latency),
        )

    def _on_finished(self) -> None:
        self.finished = True

    @property
    def active(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    def time_of(self, position: int) -> int:
        """Monotonic ns at which the sample at ring ``position`` passes the device side (estimate).

        For capture: when it was recorded; for playback: when it leaves the ring.
        """
        pos, t_ns = self.anchor
        return t_ns + (position - pos) * 1_000_000_000 // self.sample_rate

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as err:  # a vanished device may refuse to stop
                log.debug("closing stream: %s", err)


class CaptureStream(_Stream):
    """Microphone -> ring. Read the ring from a worker thread."""

    def start(self) -> None:
        self._open("input", self._callback)

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status:
            self.device_flag_count += 1
        self.anchor = (self.ring.write_pos, time.monotonic_ns())
        self.ring.write(indata[:, 0])
        self.callbacks += 1


class PlaybackStream(_Stream):
    """Ring -> output device. Write the ring from a worker thread.

    ``expect_audio`` tells the callback whether an empty ring is a fault (a phrase is
    being played and its next chunk is late: counted as underrun) or just silence.
    """

    def __init__(
        self,
        device: DeviceInfo | None,
        sample_rate: int,
        block_samples: int,
        ring: RingBuffer,
        route: SinkRoute | None = None,
    ):
        super().__init__(device, sample_rate, block_samples, ring, route)
        self.expect_audio = False
        self.marker_position = -1
        """A ring position whose departure time the callback records (-1 = none)."""
        self.marker_ns = 0
        """When the sample at the marker left the ring (0 = not yet, or skipped by a clear)."""

    def watch(self, position: int) -> bool:
        """Ask the callback to record when the sample at ``position`` leaves the ring.

        One position at a time; False when another is still being watched.
        """
        if self.marker_position >= 0:
            return False
        self.marker_ns = 0
        self.marker_position = position
        return True

    def start(self) -> None:
        self._open("output", self._callback)

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status:
            self.device_flag_count += 1
        now = time.monotonic_ns()
        self.anchor = (self.ring.read_pos, now)
        n = self.ring.read_into(outdata[:, 0], count_underrun=self.expect_audio)
        marker, end = self.marker_position, self.ring.read_pos
        if 0 <= marker < end:  # the marker left in this block (or was skipped by a clear)
            first = end - n
            if marker >= first:
                self.marker_ns = now + (marker - first) * 1_000_000_000 // self.sample_rate
            self.marker_position = -1
        self.callbacks += 1
