"""The TTS worker thread: phrases in, audio into the output ring, latency stamps out.

One thread owns the TTS model. It takes :class:`~livevoice.frames.Phrase` records
from a bounded queue; at each phrase start it asks for the voice (so voice changes
and morphs apply at phrase boundaries), streams the phrase, resamples each chunk to
the device rate and writes it to the output (which blocks while the output ring is
full: back-pressure, not loss).

A streamed phrase (``[text] segment_on = "stream"``) is queued when its first piece is
submitted; later pieces go straight to it (:class:`~livevoice.tts.phrase_feed.PhraseFeed`),
also while it is being spoken: the TTS stream speaking it is given the new text, and waits
for it when it has read everything so far (the audio ready by then is played at once).
The phrase keeps the voice it started with; cutting it (:meth:`TtsWorker.skip_current`)
drops its pieces still to come.

Bounded in both directions: a full queue drops the new phrase (counted, reported as a
:class:`~livevoice.frames.StageError`), and a phrase that waited longer than
``max_wait_s`` is dropped when its turn comes (counted), so when the TTS is slower than
real time the delay stays bounded instead of growing without end.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from livevoice.audio.output import AudioOutput
from livevoice.audio.resample import StreamResampler
from livevoice.frames import FloatArray, Phrase, RealTimeWarning, StageError
from livevoice.latency import LatencyTracker
from livevoice.text.parts import Beep
from livevoice.tts.engine import TtsChunk, TtsEngine, TtsStream
from livevoice.tts.phrase_feed import PhraseFeed
from livevoice.tts.realtime import RealTimeMonitor, slow_machine_message

log = logging.getLogger(__name__)

VoiceProvider = Callable[[], "np.ndarray | None"]
"""Gives the embedding a phrase starting now is spoken in (None: no voice)."""
Report = Callable[[StageError | RealTimeWarning], object]
"""Takes what went wrong (a dropped or failed phrase); must not block."""


@dataclass(frozen=True, slots=True)
class ChunkQueued:
    """A chunk of a phrase's speech handed to the output (for measurements, see
    :attr:`TtsWorker.on_chunk`)."""

    utterance_id: int
    phrase_index: int
    run: int
    """Which TTS stream of the phrase (0, 1...: a beep ends one and the text after it starts the next)."""
    text: str
    """The text that stream was given so far (complete in its ``final`` chunk)."""
    first_frame: int
    """Index of the chunk's first codec frame in the stream."""
    frames: int
    final: bool
    """The stream's last chunk."""
    waits: bool
    """The stream waits for more text after this chunk."""
    position: int
    """Output ring position of the chunk's first sample (the ring counts every sample written)."""
    samples: int
    """Samples of the chunk at the output rate."""
    t_ready_ns: int
    """When the TTS had the chunk ready (monotonic ns)."""


class TtsWorker:
    """Speaks phrases into an :class:`AudioOutput`, one at a time, in its own thread."""

    def __init__(
        self,
        engine: TtsEngine,
        output: AudioOutput,
        voice_for_phrase: VoiceProvider,
        tracker: LatencyTracker,
        report: Report,
        *,
        queue_size: int = 16,
        max_wait_s: float = 6.0,
        on_failure: Callable[[str, str], object] | None = None,
        realtime: RealTimeMonitor | None = None,
    ) -> None:
        self.engine = engine
        self.output = output
        self.voice_for_phrase = voice_for_phrase
        self.tracker = tracker
        self.report = report
        self.max_wait_s = max_wait_s
        self.on_failure = on_failure
        """Called (source, message) when a phrase fails; default: a StageError to ``report``."""
        self.realtime = realtime or RealTimeMonitor()
        """The real-time factor of recent phrases (may outlive this worker: it warns once)."""
        self._queue: queue.Queue[PhraseFeed] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._cancel = threading.Event()
        self._current: TtsStream | None = None
        self._speaking: PhraseFeed | None = None
        """The phrase being spoken."""
        self._open: PhraseFeed | None = None
        """The streamed phrase that later pieces go to (the last one opened and not closed)."""
        self.on_chunk: Callable[[ChunkQueued], object] | None = None
        """Sees every chunk queued for output, in the TTS thread (measurements; must not block)."""
        self._held: list[FloatArray] = []
        """The start of a phrase, held until the output pre-buffer is reached."""
        self._markers: list[tuple[int, int, bool]] = []
        """(utterance id, ring position of its first sample, watched by the callback)."""
        self._thread: threading.Thread | None = None
        self.phrases_spoken = 0
        self.phrases_dropped = 0
        self.errors = 0
        self.speaking = False

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="livevoice-tts", daemon=True)
        self._thread.start()

    def stop(self, *, drain_s: float = 0.0) -> None:
        """Stop the thread; with ``drain_s`` first let queued phrases finish for up to that long."""
        deadline = time.monotonic() + drain_s
        while drain_s and time.monotonic() < deadline and (self.speaking or not self._queue.empty()):
            time.sleep(0.02)
        self._stop.set()
        self.stop_speaking()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def submit(self, phrase: Phrase) -> bool:
        """Queue a phrase, or give a later piece to its streamed phrase (never blocks).

        False when the queue is full (counted, reported), or for a piece whose phrase was
        dropped, cut or already closed (ignored: it was counted when that happened).
        """
        if phrase.piece > 0:
            feed = self._open
            if feed is None or not feed.holds(phrase):
                return False
            if not phrase.more:
                self._open = None
            return feed.add(phrase)
        feed = PhraseFeed(phrase)
        if phrase.more:
            if self._open is not None:  # never left open by the text stage; never wait on it
                self._open.close()
            self._open = feed
        try:
            self._queue.put_nowait(feed)
            return True
        except queue.Full:
            feed.cancel()
            self._drop(feed, "the TTS queue is full (TTS slower than speech)")
            return False

    def stop_speaking(self) -> None:
        """Cut the phrase being spoken, drop queued phrases and queued audio."""
        while True:
            try:
                feed = self._queue.get_nowait()
            except queue.Empty:
                break
            feed.cancel()
            self.tracker.abandon(feed.utterance_id)
        self.skip_current()

    def skip_current(self) -> None:
        """Cut only the phrase being spoken (and its queued audio; a streamed phrase's pieces
        still to come are dropped); queued phrases stay."""
        self._cancel.set()
        feed = self._speaking
        if feed is not None:
            feed.cancel()
        stream = self._current
        if stream is not None:
            stream.cancel()
        self.output.clear()

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def _drop(self, feed: PhraseFeed, why: str) -> None:
        self.phrases_dropped += 1
        self.tracker.abandon(feed.utterance_id)
        log.warning("phrase dropped: %s: %r", why, feed.text)
        self.report(StageError("tts", f"phrase dropped: {why}"))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._resolve_markers()
            try:
                feed = self._queue.get(timeout=0.01)
            except queue.Empty:
                if self.output.drained():
                    self.output.stream.expect_audio = False
                continue
            waited_s = (time.monotonic_ns() - feed.t_text_ready_ns) / 1e9
            if waited_s > self.max_wait_s:
                feed.cancel()
                self._drop(feed, f"it waited {waited_s:.1f} s for the TTS")
                continue
            self._cancel.clear()
            self._speaking = feed
            try:
                self._speak(feed)
                self.phrases_spoken += 1
            except Exception as err:  # one phrase fails; the loop goes on
                self.errors += 1
                self.tracker.abandon(feed.utterance_id)
                log.exception("TTS failed on %r", feed.text)
                message = f"TTS failed, phrase dropped: {err}"
                if self.on_failure is not None:
                    self.on_failure("tts", message)
                else:
                    self.report(StageError("tts", message))
            finally:
                feed.cancel()  # pieces that still come for it are dropped
                self._speaking = None
                self._current = None
                self.speaking = False

    def _speak(self, feed: PhraseFeed) -> None:
        embedding = self.voice_for_phrase()
        if embedding is None:
            raise RuntimeError("no voice: add one with `livevoice voice add` or SetVoice")
        uid = feed.utterance_id
        self.tracker.stamp(uid, "text_ready", feed.t_text_ready_ns)
        self.speaking = True
        first = True
        self._held = []
        run_index = 0
        while not self._cancel.is_set():
            run = feed.next_run()
            if run is None:
                break
            if isinstance(run.part, Beep):
                first = self._play(uid, beep(run.part.duration_s, self.output.sample_rate), first)
                continue
            stream = self.engine.open(embedding, run.part.text, final=not run.more)
            self._current = stream
            if self._cancel.is_set():
                stream.cancel()
            if run.more:
                feed.attach(stream)
            try:
                first = self._stream(feed, run_index, stream, first)
            finally:
                feed.detach(stream)
            run_index += 1
        if self._held and not self._cancel.is_set():
            self._play(uid, np.zeros(0, dtype=np.float32), first, flush=True)

    def _stream(self, feed: PhraseFeed, run_index: int, stream: TtsStream, first: bool) -> bool:
        """Play one TTS stream of the phrase; returns whether the utterance's first sample is to come."""
        uid = feed.utterance_id
        resampler = StreamResampler(self.engine.sample_rate, self.output.sample_rate)
        made = frames = 0
        for chunk in stream:
            if chunk.index == 0:
                self.tracker.stamp(uid, "tts_start", stream.t_start_ns)
                self.tracker.stamp(uid, "tts_first_audio", chunk.t_ns)
            made += len(chunk.samples)
            audio: FloatArray = resampler.process(chunk.samples)
            if chunk.final:
                audio = np.concatenate([audio, resampler.flush()])
            position = self.output.ring.write_pos + sum(len(a) for a in self._held)
            # A stream waiting for text plays what it has now (the rest comes when the speaker
            # says it): no pre-buffer to fill, and the gap after it is no underrun.
            first = self._play(uid, audio, first, flush=chunk.waits)
            if chunk.waits:
                self.output.stream.expect_audio = False
            if self.on_chunk is not None:
                self.on_chunk(self._queued(feed, run_index, stream, chunk, frames, position, len(audio)))
            frames += chunk.frames
        self._count_speed(stream.compute_s, made / self.engine.sample_rate)
        return first

    @staticmethod
    def _queued(
        feed: PhraseFeed,
        run_index: int,
        stream: TtsStream,
        chunk: TtsChunk,
        first_frame: int,
        position: int,
        samples: int,
    ) -> ChunkQueued:
        return ChunkQueued(
            feed.utterance_id,
            feed.phrase_index,
            run_index,
            stream.text,
            first_frame,
            chunk.frames,
            chunk.final,
            chunk.waits,
            position,
            samples,
            chunk.t_ns,
        )

    def _count_speed(self, compute_s: float, audio_s: float) -> None:
        factor = self.realtime.add(compute_s, audio_s)
        if factor is not None:
            message = slow_machine_message(factor)
            log.warning("%s", message)
            self.report(RealTimeWarning(factor, message))

    def _play(self, uid: int, audio: FloatArray, first: bool, *, flush: bool = False) -> bool:
        """Queue audio of utterance ``uid``; returns whether its first sample is still to come.

        Into an idle output, the start of a phrase is held back until the budget's
        pre-buffer is reached (or the phrase ends), so the chunks after it arrive before
        the device needs them; behind audio still playing there is nothing to wait for.
        """
        if first and (self._held or self.output.drained()):
            self._held.append(audio)
            if sum(len(a) for a in self._held) < self.output.plan.output_prebuffer_samples and not flush:
                return True
            audio, self._held = np.concatenate(self._held), []
        if len(audio) == 0:
            return first
        self.output.stream.expect_audio = True
        position = self.output.write(audio, cancelled=self._cancel)
        if first:
            self._resolve_markers()  # an earlier watched marker is read before the callback is re-armed
            self._markers.append((uid, position, self.output.stream.watch(position)))
        self._resolve_markers()
        return False

    def _resolve_markers(self) -> None:
        """Stamp first_sample_out for utterances whose first sample has left the ring.

        The playback callback records the exact block time for one watched position; for
        others (several utterances queued at once) the time is extrapolated from the last
        callback, which is late by any underrun in between.
        """
        stream = self.output.stream
        still: list[tuple[int, int, bool]] = []
        for uid, position, watched in self._markers:
            if not self.output.played(position) or (watched and stream.marker_position == position):
                still.append((uid, position, watched))
            elif watched and stream.marker_ns == 0:
                self.tracker.abandon(uid)  # cleared before it was played
            else:
                t_ns = stream.marker_ns if watched else self.output.time_of(position)
                self.tracker.stamp(uid, "first_sample_out", t_ns)
        self._markers = still


BEEP_HZ = 1000.0
"""The censor tone (Hz)."""


def beep(duration_s: float, sample_rate: int) -> FloatArray:
    """A censor tone as long as the hidden words (0.15-1.5 s), with 5 ms fades, at -10 dBFS."""
    n = int(min(max(duration_s, 0.15), 1.5) * sample_rate)
    t = np.arange(n, dtype=np.float32) / sample_rate
    tone = (0.3 * np.sin(2 * np.pi * BEEP_HZ * t)).astype(np.float32)
    fade = min(n // 2, sample_rate // 200)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    tone[:fade] *= ramp
    tone[n - fade :] *= ramp[::-1]
    return tone
