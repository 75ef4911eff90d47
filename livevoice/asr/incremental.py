"""Incremental ASR: re-decode the growing utterance, commit words by LocalAgreement-2.

Synchronous and single-threaded: a caller feeds it the VAD's events and asks it to
decode when :meth:`IncrementalTranscriber.should_decode` says so. The live loop does
that from the ASR worker thread as fast as compute allows; file mode does it every
``step_ms`` of audio. Both run this same code.

When to decode is :mod:`livevoice.asr.schedule`'s: intermediate passes every ``step_ms``
of new audio while that fits before the VAD can end the utterance (from the measured
cost of a decode), and a closing pass once the speaker pauses, which becomes the final
pass when the VAD then ends the utterance. What keeps each decode cheap and sane (measured
on tiny.en, see bench/RESULTS.md):

- during speech a word is committed only once a pass heard ``commit_margin_ms`` after it
  (tiny.en guesses at a half-heard last word, and two passes 300 ms apart agree on the guess);
  a word Whisper gave less than ``commit_min_probability`` in either pass needs
  ``commit_unsure_margin_ms`` (tiny.en's unsure words, often an utterance's first ones, are
  the wrong ones; with more audio after them, later passes get them right);
- the end of the previous utterance's audio (``context_audio_ms``, when the pause was at most
  2 s) is decoded in front of a new one, its words already committed, so Whisper does not
  guess the first words from nothing;
- with ``context_chars`` > 0, the previous utterances' text is the prompt of a new one
  (:mod:`livevoice.asr.context`: short, forgotten after a long pause, dropped when a decode
  loops); off by default: with tiny.en it did not help (bench/RESULTS.md);
- the final text has no word that starts in the silence after the speech (Whisper hears
  "Thank you." there);
- a hypothesis that repeats an n-gram three times or more is cut after the first copy; if
  the decode had a context prompt, the context is dropped (and the final pass re-run
  without it);
- no decode before ``min_first_decode_ms`` of audio;
- ``max_new_tokens`` is capped at 12 + 8 per second of buffer;
- past ``trim_after_s`` of buffer, the audio up to the last committed word is cut off
  and the committed text becomes the prompt, so a decode never sees more than about
  ``trim_after_s`` + one step of audio.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from livevoice.asr.agreement import LocalAgreement
from livevoice.asr.context import SpokenContext, repetition_start
from livevoice.asr.schedule import CostEstimate, DecodePolicy, PassKind, auto_step_ms
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


SILENCE_WORD_TOLERANCE_S = 0.1
"""The final text keeps no word that starts later than this after the VAD's end of speech."""
MAX_CONTEXT_GAP_SAMPLES = 2 * SAMPLE_RATE
"""Audio context only across a pause of at most 2 s (the pause is put in as silence)."""
REUSE_MARGIN_SAMPLES = 1024
"""A pass is reused as the final one if it heard this much (64 ms) past the end of speech."""


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
        end_silence_ms: int = 250,
    ) -> None:
        self.recognizer = recognizer
        self.config = config
        self.time_of: PositionClock = time_of or (lambda pos: pos * 1_000_000_000 // SAMPLE_RATE)
        self.clock = clock
        """Wall clock (ns) of commits and of decode costs; file mode gives audio time (decodes cost 0)."""
        self.trim_after_samples = int(trim_after_s * SAMPLE_RATE)
        device = getattr(recognizer, "device_in_use", "cpu")
        self.step_ms = config.step_ms or auto_step_ms(device)
        self.policy = DecodePolicy(self.step_ms, config.min_first_decode_ms, end_silence_ms)
        self.cost = CostEstimate()
        self.context = SpokenContext(max_chars=config.context_chars, reset_after_s=config.context_reset_s)
        self.decode_count = 0
        self.reused_finals = 0
        """Finals taken from a closing pass, with no decode after the end of speech."""
        self.loops_cut = 0
        """Hypotheses cut at a repetition loop."""
        self.context_audio_samples = config.context_audio_ms * SAMPLE_RATE // 1000
        self._tail: tuple[int, FloatArray, list[Word]] | None = None
        """The end of the previous utterance: stream position, audio, committed words in it."""
        self._reset()

    def _reset(self) -> None:
        self.utterance_id = 0
        self._chunks: list[FloatArray] = []
        self._buffer_len = 0
        self.buffer_start = 0
        """Stream position (16 kHz samples) of the first buffered sample."""
        self._decoded_from = 0
        """Stream position up to which the previous pass decoded (the buffer's start before any)."""
        self._last_hypothesis: list[Word] | None = None
        self._prompt = ""
        self._context_prompt: str | None = None
        self._context_looped = False
        """This utterance looped with the context as prompt: its text starts no new context."""
        self.agreement = LocalAgreement(
            stable_margin_s=self.config.commit_margin_ms / 1000,
            min_probability=self.config.commit_min_probability,
            unsure_margin_s=self.config.commit_unsure_margin_ms / 1000,
        )
        self._context_words = 0
        """Committed words at the start of ``agreement.committed`` that belong to the audio context."""
        self._context_samples = 0
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

    def next_pass(self, trailing_silence_ms: int = 0) -> PassKind | None:
        """The pass :mod:`~livevoice.asr.schedule` wants now, given the VAD's trailing silence."""
        if self._started is None or self._buffer_len == 0:
            return None
        end = self.buffer_start + self._buffer_len
        speech_end = end - trailing_silence_ms * SAMPLE_RATE // 1000
        return self.policy.next_pass(
            buffer_ms=(self._buffer_len - self._context_samples) * 1000 / SAMPLE_RATE,
            unseen_ms=(end - self._decoded_from) * 1000 / SAMPLE_RATE,
            unheard_speech_ms=(speech_end - self._decoded_from) * 1000 / SAMPLE_RATE,
            trailing_silence_ms=trailing_silence_ms,
            cost_ms=self.cost.ms,
        )

    def should_decode(self, trailing_silence_ms: int = 0) -> bool:
        """A pass is due (see :meth:`next_pass`)."""
        return self.next_pass(trailing_silence_ms) is not None

    def handle(self, event: VadEvent) -> list[TranscriptEvent]:
        """Take one VAD event. A :class:`SpeechEnds` runs the final decode (unless a closing pass did)."""
        if isinstance(event, SpeechBegins):
            self._reset()
            self.utterance_id = event.utterance_id
            self.buffer_start = self._decoded_from = event.audio_start
            self._context_prompt = self.context.prompt(event.speech_start / SAMPLE_RATE)
            self._prepend_tail(event.audio_start)
            self._started = SpeechStarted(
                event.utterance_id, event.speech_start / SAMPLE_RATE, self.time_of(event.speech_start)
            )
            return [self._started]
        if isinstance(event, SpeechAudio):
            if event.utterance_id == self.utterance_id and self._started is not None:
                self._chunks.append(event.samples)
                self._buffer_len += len(event.samples)
            return []
        if event.utterance_id != self.utterance_id or self._started is None:
            return []
        return self._finish(event)

    def _prepend_tail(self, audio_start: int) -> None:
        """Put the end of the previous utterance (and the pause, as silence) in front of the
        buffer when the pause was short; its words count as committed, so they are not again.

        The pause is kept whole: shortening it to 0.3 s helped whole dev sentences decoded
        behind 3 s of the previous one (WER 16.6 -> 14.0 %) but not the live path (bench/asr.py
        on the dev set: 16.9-18.2 -> 19.8 %), see bench/RESULTS.md."""
        tail, self._tail = self._tail, None
        if tail is None:
            return
        tail_end, audio, words = tail
        gap = audio_start - tail_end
        if not 0 <= gap <= MAX_CONTEXT_GAP_SAMPLES:
            return
        self._chunks = [audio, np.zeros(gap, dtype=np.float32)]
        self._buffer_len = self._context_samples = len(audio) + gap
        self.buffer_start = audio_start - self._buffer_len
        self.agreement.committed = list(words)
        self._context_words = len(words)

    def _keep_tail(self, speech_end: int) -> None:
        """Remember the end of this utterance's audio (up to ``speech_end``) for the next one."""
        if self.context_audio_samples <= 0 or self._buffer_len == 0:
            return
        audio = self._audio()[: max(0, speech_end - self.buffer_start)]
        audio = audio[-self.context_audio_samples :]
        start = speech_end - len(audio)
        words = [w for w in self.agreement.committed if w.start_s * SAMPLE_RATE >= start]
        self._tail = (speech_end, audio.copy(), words)

    def _audio(self) -> FloatArray:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros(0, dtype=np.float32)

    def _hypothesis(self, *, final: bool = False) -> list[Word]:
        """Decode the buffer: timed words (absolute stream seconds), cut at a repetition loop."""
        audio = self._audio()
        self._decoded_from = self.buffer_start + len(audio)
        prompt = self._prompt or self._context_prompt
        words = self._decode(audio, prompt)
        loop = repetition_start([w.text for w in words])
        if loop is not None and not self._prompt and self._context_prompt:
            self.context.drop()  # a loop with the context as prompt: start the context afresh
            self._context_prompt = None
            self._context_looped = True
            if final:
                words = self._decode(audio, None)
                loop = repetition_start([w.text for w in words])
        if loop is not None:
            self.loops_cut += 1
            words = words[:loop]
        offset = self.buffer_start / SAMPLE_RATE
        hypothesis = [Word(w.text, w.start_s + offset, w.end_s + offset, w.probability) for w in words]
        self._last_hypothesis = hypothesis
        return hypothesis

    def _decode(self, audio: FloatArray, prompt: str | None) -> list[Word]:
        started = self.clock()
        self.decode_count += 1
        words = self.recognizer.transcribe(
            audio, prompt=prompt, max_new_tokens=max_new_tokens_for(len(audio) / SAMPLE_RATE)
        )
        self.cost.add((self.clock() - started) / 1e6)
        return words

    def decode(self) -> list[TranscriptEvent]:
        """One pass over the buffer: commit what two passes agree on, report the rest."""
        if self._started is None:
            return []
        hypothesis = self._hypothesis()
        committed = self.agreement.update(hypothesis, self._decoded_from / SAMPLE_RATE)
        now = self.clock()
        events: list[TranscriptEvent] = []
        if committed:
            events.append(WordsCommitted(self.utterance_id, tuple(committed), now))
        events.append(
            TranscriptPartial(
                self.utterance_id,
                join_words(self.agreement.committed[self._context_words :]),
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
        self._context_samples = 0
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
            last = self._last_hypothesis
            if last is not None and self._decoded_from >= ended.speech_end + REUSE_MARGIN_SAMPLES:
                self.reused_finals += 1  # a closing pass heard all the speech: it is the final one
                hypothesis = last
            else:
                hypothesis = self._hypothesis(final=True)
            # Whisper's "Thank you." and the like, heard in the silence after the speech
            limit_s = ended.speech_end / SAMPLE_RATE + SILENCE_WORD_TOLERANCE_S
            rest = self.agreement.finish([w for w in hypothesis if w.start_s <= limit_s])
            now = self.clock()
            if rest:
                events.append(WordsCommitted(self.utterance_id, tuple(rest), now))
        words = tuple(self.agreement.committed[self._context_words :])
        self._keep_tail(ended.speech_end)
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
            if not self._context_looped:
                self.context.remember(join_words(words), ended.speech_end / SAMPLE_RATE)
        self._reset()
        return events
