"""A preallocated single-producer / single-consumer ring buffer of float32 samples.

The audio callbacks are one side of each ring: the capture callback writes, the
playback callback reads. Neither side ever allocates, locks, blocks or raises:

- a write that does not fit stores what fits and counts the rest as *overrun*
  (the newest samples are the ones dropped, because only the reader may move the
  read position);
- a read that finds too little returns what there is, fills the rest of the output
  with silence and counts the missing samples as *underrun*.

Positions are absolute sample counts since the ring was created (``write_pos``,
``read_pos``), so a caller can tell when a given sample has been read: the playback
side uses that to stamp the moment an utterance's first sample reaches the device.

Safety without locks relies on each position having one writer, and on the writer
publishing its position only after the data is in place (CPython's GIL makes the int
store atomic).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


class RingBuffer:
    """A fixed-capacity SPSC ring of mono float32 samples."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"ring capacity must be positive, not {capacity}")
        self.capacity = capacity
        self._buf = np.zeros(capacity, dtype=np.float32)
        self.write_pos = 0
        """Samples ever written (absolute position of the next write)."""
        self.read_pos = 0
        """Samples ever read (absolute position of the next read)."""
        self.overrun_samples = 0
        """Samples dropped because the ring was full."""
        self.overrun_events = 0
        """Writes that dropped samples."""
        self.underrun_samples = 0
        """Samples replaced by silence because the ring was empty."""
        self.underrun_events = 0
        """Reads that came up short (only those that asked to be counted)."""
        self._discard_to = 0

    @property
    def available(self) -> int:
        """Samples ready to read."""
        return self.write_pos - self.read_pos

    @property
    def free(self) -> int:
        """Samples that can be written without overrun."""
        return self.capacity - (self.write_pos - self.read_pos)

    def write(self, samples: FloatArray) -> int:
        """Store as many samples as fit; count the rest as overrun. Returns samples stored."""
        n = len(samples)
        room = self.capacity - (self.write_pos - self.read_pos)
        if n > room:
            self.overrun_samples += n - room
            self.overrun_events += 1
            n = room
        if n == 0:
            return 0
        start = self.write_pos % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start : start + first] = samples[:first]
        if n > first:
            self._buf[: n - first] = samples[first:n]
        self.write_pos += n
        return n

    def read_into(self, out: FloatArray, *, count_underrun: bool = True) -> int:
        """Fill ``out`` from the ring; pad with silence. Returns samples taken from the ring.

        ``count_underrun=False`` is for an idle output (nothing is being spoken), where
        silence is expected rather than a fault.
        """
        if self._discard_to > self.read_pos:
            self.read_pos = self._discard_to
        want = len(out)
        n = min(want, self.write_pos - self.read_pos)
        if n > 0:
            start = self.read_pos % self.capacity
            first = min(n, self.capacity - start)
            out[:first] = self._buf[start : start + first]
            if n > first:
                out[first:n] = self._buf[: n - first]
            self.read_pos += n
        if n < want:
            out[n:] = 0.0
            if count_underrun:
                self.underrun_samples += want - n
                self.underrun_events += 1
        return n

    def read(self, max_samples: int) -> FloatArray:
        """Take up to ``max_samples`` (a new array; for worker threads, not callbacks)."""
        n = min(max_samples, self.write_pos - self.read_pos)
        out = np.empty(n, dtype=np.float32)
        self.read_into(out, count_underrun=False)
        return out

    def request_clear(self) -> int:
        """Drop everything written so far, from any thread; the reader skips it on its next read.

        Only the reader moves ``read_pos``; this records where it should jump to, so a
        writer (or a third thread) can flush queued audio without racing the callback.
        Returns the samples that were queued.
        """
        queued = self.write_pos - self.read_pos
        self._discard_to = self.write_pos
        return queued
