"""The streaming loop of one Qwen3-TTS phrase: text in, audio chunks out, as early as possible.

The loop (host side; the device side is :mod:`livevoice.tts.frame_step`):

1. Wait for the first text token; take a frame stepper and load the voice's prompt cache.
2. The first talker step reads the first text row plus ``codec_bos`` and chooses
   codebook 0 of frame 0.
3. Per frame *i*: the next text row (token *i + 1*, then the end-of-text row once the text
   is final and read, then padding) goes into the stepper and one launch computes frame
   *i*'s codebooks 1-15 and chooses codebook 0 of frame *i + 1*. The host does not wait
   for it: it waits for the launch before (frame *i - 1*), so it learns one frame late
   whether codebook 0 was the end token, while the device is already busy with the next
   frame. A frame computed after the end is dropped.
4. Every ``first_chunk_frames`` then ``chunk_frames`` frames, the frames are decoded
   (:class:`~livevoice.tts.codec.StreamingCodecDecoder`) and yielded: the one host
   synchronisation per chunk.

When the text is still growing and every ready token has been read, the frame's
codebooks are computed at once and the frames so far are yielded as a (shorter) chunk,
then the loop waits for more text or :meth:`Qwen3TtsStream.close`; the model never reads
the end of the text or padding before then, and may not end the phrase.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from livevoice.frames import FloatArray
from livevoice.tts.engine import TtsChunk, TtsError, chunk_sizes
from livevoice.tts.text_feed import END, PAD, WAIT, TextFeed

if TYPE_CHECKING:
    import torch

    from livevoice.tts.frame_step import FrameStepper
    from livevoice.tts.qwen3 import Qwen3TtsEngine


class Qwen3TtsStream:
    """One phrase being spoken by a :class:`~livevoice.tts.qwen3.Qwen3TtsEngine`
    (see :class:`~livevoice.tts.engine.TtsStream`).

    Generation pauses (blocks) when the text is not final and every ready token has been
    read; the model never reads the end of the text or padding before :meth:`close`, and
    it may not end the phrase before then. Cancelling ends iteration within one frame.
    """

    def __init__(self, engine: Qwen3TtsEngine, embedding: torch.Tensor, text: str, *, final: bool) -> None:
        self._engine = engine
        self._embedding = embedding
        self._cond = threading.Condition()
        self._feed = TextFeed(engine.steps.tokenize, text, final=final)
        self._cancelled = False
        self._started = False
        self._waiting = False
        self._rows: dict[int, tuple[int, Any]] = {}
        self._codes = np.zeros((0, engine.steps.num_groups), dtype=np.int64)
        self._busy_ns = 0
        self.frames_generated = 0
        """Codec frames generated so far (their codes are in :attr:`codes`)."""
        self.t_start_ns = 0
        self.t_first_audio_ns = 0
        self.audio_samples = 0
        """Samples yielded so far."""
        self.frame_ready_ns: list[int] = []
        """Monotonic time (ns) at which the host knew each frame's 16 codes."""
        self.decode_ns: list[int] = []
        """Time (ns) each chunk's codec decoding took (the device was idle otherwise)."""

    # ----------------------------------------------------------- control (any thread)

    def append(self, text: str) -> None:
        """Extend the text (as given; include the separating space)."""
        with self._cond:
            if self._feed.final:
                raise TtsError("cannot append text to a phrase that was already closed")
            self._feed.append(text)
            self._cond.notify_all()

    def close(self) -> None:
        """The text is final. Closing a phrase that has no text cancels it and raises TtsError."""
        with self._cond:
            self._feed.close()
            empty = not self._feed.text.strip()
            if empty:
                self._cancelled = True
            self._cond.notify_all()
        if empty:
            raise TtsError("nothing to say: the phrase was closed without text")

    def cancel(self) -> None:
        """Stop generating; iteration ends within one frame, without a final chunk."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ state

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancelled

    def wait_until_waiting(self, timeout_s: float) -> bool:
        """Block until generation pauses for text (True) or ``timeout_s`` passes (False)."""
        with self._cond:
            return (
                self._cond.wait_for(lambda: self._waiting or self._cancelled, timeout=timeout_s)
                and self._waiting
            )

    @property
    def text(self) -> str:
        """The text so far."""
        with self._cond:
            return self._feed.text

    @property
    def codes(self) -> np.ndarray:
        """The codes generated so far, int64 ``(frames, 16)``."""
        return self._codes[: self.frames_generated].copy()

    @property
    def compute_s(self) -> float:
        """Seconds spent generating so far: not waiting for text, not while the consumer held a chunk."""
        return self._busy_ns / 1e9

    @property
    def real_time_factor(self) -> float:
        """:attr:`compute_s` per second of audio yielded (0 before any audio); below 1 keeps up."""
        if not self.audio_samples:
            return 0.0
        return self.compute_s / (self.audio_samples / self._engine.sample_rate)

    # ------------------------------------------------------------- text

    def _peek_text(self, index: int) -> int | None:
        """The text step at ``index`` (token, END, PAD or WAIT) without waiting; None if cancelled."""
        with self._cond:
            if self._cancelled:
                return None
            return self._feed.step(index)

    def _next_text(self, index: int) -> int | None:
        """The text step at ``index`` (token, END or PAD), waiting until it is ready; None if cancelled."""
        with self._cond:
            while True:
                if self._cancelled:
                    return None
                step = self._feed.step(index)
                if step != WAIT:
                    self._waiting = False
                    return step
                self._waiting = True
                self._cond.notify_all()
                self._cond.wait()

    def _may_end(self, row: int) -> bool:
        """Whether the step that reads text row ``row`` may choose the end of speech: only once
        the text is final (and, with the engine's ``paced_frames_per_char``, once ``row`` is past it)."""
        with self._cond:
            if not self._feed.final:
                return False
            return self._engine.paced_frames_per_char is None or row >= self._feed.ready_count()

    def _limit(self, cap: int) -> int:
        """The most frames this phrase may have: ``cap``, or with the engine's
        ``paced_frames_per_char`` (and final text) as many as its text would take to say."""
        pace = self._engine.paced_frames_per_char
        if pace is None:
            return cap
        with self._cond:
            if not self._feed.final:
                return cap
            return min(cap, max(self._feed.ready_count() + 1, round(pace * len(self._feed.text))))

    def _text_row(self, index: int, step: int) -> torch.Tensor:
        """The text-track row ``(1, 1, hidden)`` for the text step ``step`` at ``index``.

        Token rows are projected in one batch for every token ready now (the ids reach the
        device through pinned memory, so this does not wait for the device either).
        """
        import torch

        steps = self._engine.steps
        if step == END:
            return steps.tts_eos
        if step == PAD:
            return steps.tts_pad
        cached = self._rows.get(index)
        if cached is not None and cached[0] == step:
            row: torch.Tensor = cached[1]
            return row
        with self._cond:
            tokens = self._feed.tokens[index : self._feed.ready_count()]
        if not tokens or tokens[0] != step:
            tokens = [step]
        ids = torch.tensor([tokens], dtype=torch.long)
        if steps.device.type == "cuda":
            ids = ids.pin_memory().to(steps.device, non_blocking=True)
        rows = steps.project_text(ids)
        for offset, token in enumerate(tokens):
            self._rows[index + offset] = (token, rows[:, offset : offset + 1])
        row = rows[:, :1]
        return row

    # ------------------------------------------------------------- generation

    def __iter__(self) -> Iterator[TtsChunk]:
        if self._started:
            raise RuntimeError("a TTS stream can be iterated only once")
        self._started = True
        return self._generate()

    def _generate(self) -> Iterator[TtsChunk]:
        import torch

        # As a decorator on a generator, inference mode is entered and left around each
        # step, so it does not leak into the consumer's code between chunks.
        return torch.inference_mode()(self._run)()

    def _run(self) -> Iterator[TtsChunk]:
        engine = self._engine
        first = self._next_text(0)
        if first is None or first < 0:  # cancelled (closing without text cancels)
            return
        mark = self.t_start_ns = time.monotonic_ns()
        options = engine.sampling
        with engine.steppers.stepper(options) as stepper:
            cap = min(options.max_new_tokens, stepper.frames)
            self._codes = np.zeros((cap, engine.steps.num_groups), dtype=np.int64)
            prefix = engine.voice_prefix(self._embedding)
            stepper.set_allow_end(self._may_end(0))
            previous = stepper.begin(prefix, self._text_row(0, first) + prefix.codec_bos, engine.seed)
            decoder = stepper.codec
            sizes = chunk_sizes(engine.first_chunk_frames, engine.chunk_frames)
            target, start, index, frame = next(sizes), 0, 0, 0
            while True:
                if self._cancelled:
                    return
                limit = self._limit(cap)
                if frame - start == target or frame >= limit:
                    stepper.wait(previous)
                    self._confirm(stepper, frame)
                    end = frame >= limit or self._code0(stepper, frame) == engine.steps.end_token
                    chunk = self._chunk(decoder, stepper, start, frame, index, final=end)
                    self._busy_ns += time.monotonic_ns() - mark
                    yield chunk
                    mark = time.monotonic_ns()
                    if end:
                        return
                    index, start, target = index + 1, frame, next(sizes)
                    continue
                step = self._peek_text(frame + 1)
                if step is None:
                    return
                stepper.set_allow_end(self._may_end(frame + 1))
                if step == WAIT:
                    # Compute this frame's codebooks now, yield what is ready, then wait.
                    event = stepper.launch("predict", frame)
                    stepper.wait(previous)
                    if self._code0(stepper, frame) == engine.steps.end_token:
                        self._confirm(stepper, frame)
                        chunk = self._chunk(decoder, stepper, start, frame, index, final=True)
                        self._busy_ns += time.monotonic_ns() - mark
                        yield chunk
                        return
                    stepper.wait(event)
                    self._confirm(stepper, frame + 1)
                    chunk = self._chunk(decoder, stepper, start, frame + 1, index, final=False, waits=True)
                    index, start, target = index + 1, frame + 1, engine.chunk_frames
                    self._busy_ns += time.monotonic_ns() - mark
                    yield chunk
                    step = self._next_text(frame + 1)
                    mark = time.monotonic_ns()
                    if step is None:
                        return
                    stepper.set_allow_end(self._may_end(frame + 1))
                    stepper.set_text(self._text_row(frame + 1, step))
                    previous = stepper.launch("talk", frame)
                    frame += 1
                    continue
                stepper.set_text(self._text_row(frame + 1, step))
                event = stepper.launch("frame", frame)
                stepper.wait(previous)
                self._confirm(stepper, frame)
                if self._code0(stepper, frame) == engine.steps.end_token:
                    # The frame launched just now follows the end: drop it.
                    chunk = self._chunk(decoder, stepper, start, frame, index, final=True)
                    self._busy_ns += time.monotonic_ns() - mark
                    yield chunk
                    return
                previous = event
                frame += 1

    @staticmethod
    def _code0(stepper: FrameStepper, frame: int) -> int:
        return int(stepper.host_codes[frame, 0])

    def _confirm(self, stepper: FrameStepper, frames: int) -> None:
        """Frames below ``frames`` are done: copy their codes to the host record."""
        if frames <= self.frames_generated:
            return
        now = time.monotonic_ns()
        done = self.frames_generated
        self._codes[done:frames] = stepper.host_codes[done:frames].numpy()
        self.frame_ready_ns.extend([now] * (frames - done))
        self.frames_generated = frames

    def _chunk(
        self,
        decoder: Any,
        stepper: FrameStepper,
        start: int,
        end: int,
        index: int,
        *,
        final: bool,
        waits: bool = False,
    ) -> TtsChunk:
        began = time.monotonic_ns()
        if end > start:
            samples = decoder.decode(stepper.codes[start:end]).float().cpu().numpy()
        else:
            samples = np.zeros(0, dtype=np.float32)
        now = time.monotonic_ns()
        self.decode_ns.append(now - began)
        if self.t_first_audio_ns == 0 and len(samples):
            self.t_first_audio_ns = now
        audio: FloatArray = np.ascontiguousarray(samples, dtype=np.float32)
        self.audio_samples += len(audio)
        return TtsChunk(
            samples=audio,
            sample_rate=self._engine.sample_rate,
            index=index,
            frames=end - start,
            t_ns=now,
            final=final,
            waits=waits,
        )


__all__ = ["Qwen3TtsStream"]
