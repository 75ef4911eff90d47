"""Incremental ASR: re-decode the growing utterance, commit words by LocalAgreement-2.

Synchronous and single-threaded: a caller feeds it the VAD's events and asks it to
decode when :meth:`IncrementalTranscriber.should_decode` says so. The live loop does
that from the ASR worker thread as fast as compute allows; file mode does it every
``step_ms`` of audio. Both run this same code.

What keeps each decode cheap and sane on long speech (measured on tiny.en, see
bench/RESULTS.md):

- the buffer and the prompt are reset at every VAD end of speech (a prompt carried
  across utterances made tiny.en loop on one word);
- no decode before ``min_first_decode_ms`` of audio;
- ``max_new_tokens`` is capped at 12 + 8 per second of buffer;
- no intermediate pass starts once the speaker has been silent for ~100 ms (the end
  of speech is likely coming and the final pass should not wait behind it);
- past ``trim_after_s`` of buffer, the audio up to the last committed word is cut off
  and the committed text becomes the prompt, so a decode never sees more than about
  ``trim_after_s`` + one step of audio.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from livevoice.asr.agreement import LocalAgreement
from livevoice.asr.vad import SAMPLE_RATE, SpeechAudio, SpeechBegins, SpeechEnds, VadEvent
from livevoice.asr.whisper import WordRecognizer
from livevoice.config import AsrConfig
from livevoice.frames import (
    FloatArray,
    SpeechEnded,
    SpeechStarted,
    TranscriptEvent,
    TranscriptFinal,
    TranscriptPartial,
    Word,
    WordsCommitted,
)

PositionClock = Callable[[int], int]
"""Maps a 16 kHz stream position to the monotonic ns at which it was captured."""


def max_new_tokens_for(seconds: float) -> int:
    """Token cap for a decode of ``seconds`` of audio (speech is < 5 tokens/s; loops are not)."""
    return int(12 + 8 * seconds)


def join_words(words: list[Word] | tuple[Word, ...]) -> str:
    return " ".join(w.text for w in words)


class IncrementalTranscriber:
    """One utterance at a time: buffer, decode, agree, finalise."""

    def __init__(
        self,
        recognizer: WordRecognizer,
        config: AsrConfig,
        *,
        time_of: PositionClock | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
        trim_after_s: float = 12.0,
    ) -> None:
        self.recognizer = recognizer
        self.config = config
        self.time_of: PositionClock = time_of or (lambda pos: pos * 1_000_000_000 // SAMPLE_RATE)
        self.clock = clock
        self.trim_after_samples = int(trim_after_s * SAMPLE_RATE)
        self.step_samples = config.step_ms * SAMPLE_RATE // 1000
        self.min_first_samples = config.min_first_decode_ms * SAMPLE_RATE // 1000
        self.decode_count = 0
        self.hold_ms = 96
        """No new intermediate pass once the utterance has been silent this long (ms)."""
        self._reset()

    def _reset(self) -> None:
        self.utterance_id = 0
        self._chunks: list[FloatArray] = []
        self._buffer_len = 0
        self.buffer_start = 0
        """Stream position (16 kHz samples) of the first buffered sample."""
        self._since_decode = 0
        self._prompt = ""
        self.agreement = LocalAgreement()
        self._started: SpeechStarted | None = None

    def abandon(self) -> None:
        """Drop the open utterance (after an error); the next SpeechBegins starts afresh."""
        self._reset()

    @property
    def active(self) -> bool:
        """An utterance is open."""
        return self._started is not None

    @property
    def buffer_seconds(self) -> float:
        return self._buffer_len / SAMPLE_RATE

    def should_decode(self, trailing_silence_ms: int = 0) -> bool:
        """Enough new audio for another pass (and enough audio at all).

        Not while the speaker has been silent for ``hold_ms`` or more: the end of speech is
        probably coming, and a pass started now would delay the final one by its whole cost.
        """
        return (
            self._started is not None
            and self._buffer_len >= self.min_first_samples
            and self._since_decode >= self.step_samples
            and trailing_silence_ms < self.hold_ms
        )

    def handle(self, event: VadEvent) -> list[TranscriptEvent]:
        """Take one VAD event. A :class:`SpeechEnds` runs the final decode."""
        if isinstance(event, SpeechBegins):
            self._reset()
            self.utterance_id = event.utterance_id
            self.buffer_start = event.audio_start
            self._started = SpeechStarted(
                event.utterance_id, event.speech_start / SAMPLE_RATE, self.time_of(event.speech_start)
            )
            return [self._started]
        if isinstance(event, SpeechAudio):
            if event.utterance_id == self.utterance_id and self._started is not None:
                self._chunks.append(event.samples)
                self._buffer_len += len(event.samples)
                self._since_decode += len(event.samples)
            return []
        if event.utterance_id != self.utterance_id or self._started is None:
            return []
        return self._finish(event)

    def _audio(self) -> FloatArray:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros(0, dtype=np.float32)

    def _hypothesis(self) -> list[Word]:
        audio = self._audio()
        self._since_decode = 0
        self.decode_count += 1
        words = self.recognizer.transcribe(
            audio, prompt=self._prompt or None, max_new_tokens=max_new_tokens_for(len(audio) / SAMPLE_RATE)
        )
        offset = self.buffer_start / SAMPLE_RATE
        return [Word(w.text, w.start_s + offset, w.end_s + offset, w.probability) for w in words]

    def decode(self) -> list[TranscriptEvent]:
        """One pass over the buffer: commit what two passes agree on, report the rest."""
        if self._started is None:
            return []
        committed = self.agreement.update(self._hypothesis())
        now = self.clock()
        events: list[TranscriptEvent] = []
        if committed:
            events.append(WordsCommitted(self.utterance_id, tuple(committed), now))
        events.append(
            TranscriptPartial(
                self.utterance_id,
                join_words(self.agreement.committed),
                join_words(self.agreement.tentative()),
                now,
            )
        )
        self._maybe_trim()
        return events

    def _maybe_trim(self) -> None:
        """Cut the buffer at the last committed word once it grows past ``trim_after_s``."""
        if self._buffer_len < self.trim_after_samples or not self.agreement.committed:
            return
        cut_pos = int(self.agreement.committed_end_s * SAMPLE_RATE)
        cut = cut_pos - self.buffer_start
        if cut <= 0:
            return
        audio = self._audio()
        self._chunks = [audio[cut:].copy()]
        self._buffer_len = len(self._chunks[0])
        self.buffer_start = cut_pos
        self._prompt = join_words(self.agreement.committed)[-200:]

    def _finish(self, ended: SpeechEnds) -> list[TranscriptEvent]:
        started = self._started
        assert started is not None
        t_detected = self.clock()
        speech_ended = SpeechEnded(
            ended.utterance_id, ended.speech_end / SAMPLE_RATE, self.time_of(ended.speech_end), t_detected
        )
        events: list[TranscriptEvent] = [speech_ended]
        if self._buffer_len > 0:
            rest = self.agreement.finish(self._hypothesis())
            now = self.clock()
            if rest:
                events.append(WordsCommitted(self.utterance_id, tuple(rest), now))
        words = tuple(self.agreement.committed)
        if words:
            events.append(
                TranscriptFinal(
                    utterance_id=self.utterance_id,
                    text=join_words(words),
                    words=words,
                    start_s=words[0].start_s,
                    end_s=words[-1].end_s,
                    t_speech_start_ns=started.t_ns,
                    t_speech_end_ns=speech_ended.t_ns,
                    t_text_ready_ns=self.clock(),
                )
            )
        self._reset()
        return events
