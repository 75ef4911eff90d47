"""The live front half of the loop: microphone -> VAD worker -> ASR worker -> events.

Threads only here, at the edge: the capture callback copies into a ring; the VAD
thread resamples to 16 kHz and cuts utterances; the ASR thread decodes. Between the
two workers is a bounded queue: when it is full an event is dropped and counted
(never an unbounded growth), and the counter is part of :meth:`LiveTranscriber.stats`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from livevoice.asr.incremental import IncrementalTranscriber
from livevoice.asr.vad import SAMPLE_RATE, SpeechDetector, SpeechProbability, VadEvent
from livevoice.asr.whisper import WordRecognizer
from livevoice.audio.budget import BufferPlan
from livevoice.audio.devices import DeviceInfo
from livevoice.audio.resample import StreamResampler
from livevoice.audio.ring import RingBuffer
from livevoice.audio.sink_route import SinkRoute
from livevoice.audio.streams import CaptureStream
from livevoice.config import Config
from livevoice.frames import FloatArray, TranscriptEvent

log = logging.getLogger(__name__)

EventSink = Callable[[TranscriptEvent], None]
AudioTap = Callable[[FloatArray], None]
"""Sees every captured block at the device rate (VAD thread); must not block."""
Gate = Callable[[], bool]
"""Whether captured audio should reach the VAD and ASR now (mode, push-to-talk)."""


class LiveTranscriber:
    """Capture from a device and transcribe live; events go to ``on_event`` (ASR thread)."""

    def __init__(
        self,
        config: Config,
        plan: BufferPlan,
        device: DeviceInfo | None,
        recognizer: WordRecognizer,
        vad: SpeechProbability,
        on_event: EventSink,
        *,
        on_audio: AudioTap | None = None,
        gate: Gate | None = None,
        on_error: Callable[[str, str], object] | None = None,
        route: SinkRoute | None = None,
        queue_size: int = 4096,
    ) -> None:
        self.config = config
        self.plan = plan
        self.ring = RingBuffer(plan.capture_ring_samples)
        self.capture = CaptureStream(device, plan.sample_rate, plan.block_samples, self.ring, route)
        self.detector = SpeechDetector(config.vad, vad)
        self.transcriber = IncrementalTranscriber(
            recognizer, config.asr, time_of=self._time_of, end_silence_ms=config.vad.min_silence_ms
        )
        self.on_event = on_event
        self.on_audio = on_audio
        self.gate = gate
        self.on_error = on_error
        self._events: queue.Queue[VadEvent] = queue.Queue(maxsize=queue_size)
        self.dropped_events = 0
        self.errors = 0
        self.capture_stalls = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _time_of(self, position_16k: int) -> int:
        return self.capture.time_of(position_16k * self.plan.sample_rate // SAMPLE_RATE)

    def start(self) -> None:
        """Open the device and start both workers."""
        self.capture.start()
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._vad_loop, name="livevoice-vad", daemon=True),
            threading.Thread(target=self._asr_loop, name="livevoice-asr", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop the workers and close the device."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.capture.close()

    def stats(self) -> dict[str, Any]:
        return {
            "capture_overrun_samples": self.ring.overrun_samples,
            "capture_overrun_events": self.ring.overrun_events,
            "device_flags": self.capture.device_flag_count,
            "dropped_vad_events": self.dropped_events,
            "asr_errors": self.errors,
            "capture_stalls": self.capture_stalls,
            "asr_decodes": self.transcriber.decode_count,
            "asr_finals_without_decode": self.transcriber.reused_finals,
            "asr_loops_cut": self.transcriber.loops_cut,
        }

    def _vad_loop(self) -> None:
        resampler = StreamResampler(self.plan.sample_rate, SAMPLE_RATE)
        poll_s = self.plan.block_ms / 1000
        # A source can stop delivering mid-utterance (PipeWire suspends an idle virtual
        # sink, and its monitor goes quiet): after this long without samples, the
        # utterance is closed as if the microphone had gone silent.
        stall_ns = max(200, self.config.vad.min_silence_ms) * 1_000_000
        silence = np.zeros((self.config.vad.min_silence_ms + 64) * SAMPLE_RATE // 1000, dtype=np.float32)
        last_data_ns = time.monotonic_ns()
        while not self._stop.is_set():
            if self.ring.available == 0:
                if self.detector.in_speech and time.monotonic_ns() - last_data_ns > stall_ns:
                    self.capture_stalls += 1
                    self._queue_events(self.detector.feed(silence))
                    last_data_ns = time.monotonic_ns()
                time.sleep(poll_s)
                continue
            last_data_ns = time.monotonic_ns()
            block = self.ring.read(self.ring.available)
            if self.on_audio is not None:
                self.on_audio(block)
            audio = resampler.process(block)
            if self.gate is not None and not self.gate():
                self._queue_events(self.detector.skip(audio))
                continue
            self._queue_events(self.detector.feed(audio))

    def _queue_events(self, events: list[VadEvent]) -> None:
        for event in events:
            try:
                self._events.put_nowait(event)
            except queue.Full:
                self.dropped_events += 1

    def _asr_loop(self) -> None:
        while not self._stop.is_set():
            batch: list[VadEvent] = []
            try:
                batch.append(self._events.get(timeout=0.05))
                while True:
                    batch.append(self._events.get_nowait())
            except queue.Empty:
                pass
            try:
                for event in batch:
                    for out in self.transcriber.handle(event):
                        self.on_event(out)
                if self.transcriber.should_decode(self.detector.trailing_silence_ms):
                    for out in self.transcriber.decode():
                        self.on_event(out)
            except Exception as err:
                self.errors += 1
                self.transcriber.abandon()
                log.exception("ASR failed; the utterance is dropped")
                if self.on_error is not None:
                    self.on_error("asr", f"ASR failed, utterance dropped: {err}")
