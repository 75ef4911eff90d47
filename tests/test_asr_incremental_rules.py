"""The incremental transcriber's rules around the model, driven by scripted hypotheses
(the model's quirks, e.g. "Thank you." in the silence, are not reproducible on demand)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from livevoice.asr.incremental import IncrementalTranscriber
from livevoice.asr.vad import SAMPLE_RATE, SpeechAudio, SpeechBegins, SpeechEnds
from livevoice.config import AsrConfig
from livevoice.frames import FloatArray, TranscriptFinal, Word, WordsCommitted


@dataclass
class ScriptedRecognizer:
    """Answers each decode with words (seconds from the buffer's start), with or without a prompt."""

    plain: list[Word]
    prompted: list[Word] | None = None
    calls: list[str | None] = field(default_factory=list)

    def transcribe(self, audio: FloatArray, *, prompt: str | None, max_new_tokens: int) -> list[Word]:
        self.calls.append(prompt)
        return list(self.prompted if prompt and self.prompted is not None else self.plain)


def timed(text: str, start: float = 0.2, step: float = 0.3) -> list[Word]:
    return [Word(w, start + i * step, start + (i + 1) * step, 0.9) for i, w in enumerate(text.split())]


def utterance(inc: IncrementalTranscriber, uid: int, start: int, seconds: float, speech_s: float) -> str:
    """One utterance from stream position ``start``: ``seconds`` of audio, speech until ``speech_s``."""
    inc.handle(SpeechBegins(uid, start, start))
    inc.handle(SpeechAudio(uid, np.zeros(int(seconds * SAMPLE_RATE), np.float32), start))
    events = inc.handle(
        SpeechEnds(uid, start + int(speech_s * SAMPLE_RATE), start + int(seconds * SAMPLE_RATE))
    )
    finals = [e for e in events if isinstance(e, TranscriptFinal)]
    return finals[0].text if finals else ""


def test_words_heard_in_the_silence_after_the_speech_are_dropped() -> None:
    words = [*timed("Hello there"), Word("Thank", 1.05, 1.2, 0.5), Word("you.", 1.2, 1.3, 0.5)]
    inc = IncrementalTranscriber(ScriptedRecognizer(words), AsrConfig(context_chars=0, context_audio_ms=0))
    assert utterance(inc, 1, 0, 1.4, speech_s=0.85) == "Hello there"


def test_the_previous_text_is_the_next_prompt_and_a_loop_drops_it() -> None:
    clean = timed("see you tomorrow")
    looped = timed("see you see you see you see you")
    script = ScriptedRecognizer(clean, prompted=looped)
    inc = IncrementalTranscriber(
        script, AsrConfig(context_chars=100, context_reset_s=10.0, context_audio_ms=0)
    )
    assert utterance(inc, 1, 0, 1.3, speech_s=1.2) == "see you tomorrow"
    assert script.calls == [None]
    # the next utterance is decoded with the first one's text as prompt; it loops: the final
    # pass is run again without the prompt, and the context is gone for later utterances
    assert utterance(inc, 2, 2 * SAMPLE_RATE, 1.3, speech_s=1.2) == "see you tomorrow"
    assert script.calls[1:] == ["see you tomorrow", None]
    assert inc.loops_cut == 0 and inc.context.prompt(4.0) is None
    assert utterance(inc, 3, 4 * SAMPLE_RATE, 1.3, speech_s=1.2) == "see you tomorrow"
    assert utterance(inc, 4, 6 * SAMPLE_RATE, 1.3, speech_s=1.2) == "see you tomorrow"
    assert script.calls[3:] == [None, "see you tomorrow", None]  # context again from utterance 3


def test_a_loop_without_a_prompt_is_cut_after_its_first_copy() -> None:
    script = ScriptedRecognizer(timed("thank you thank you thank you", step=0.2))
    inc = IncrementalTranscriber(script, AsrConfig(context_chars=0, context_audio_ms=0))
    assert utterance(inc, 1, 0, 1.5, speech_s=1.4) == "thank you"
    assert inc.loops_cut == 1


def test_context_is_forgotten_after_a_long_pause() -> None:
    script = ScriptedRecognizer(timed("good morning"))
    inc = IncrementalTranscriber(
        script, AsrConfig(context_chars=100, context_reset_s=5.0, context_audio_ms=0)
    )
    utterance(inc, 1, 0, 1.0, speech_s=0.9)
    utterance(inc, 2, 3 * SAMPLE_RATE, 1.0, speech_s=0.9)  # 2.1 s later: prompted
    utterance(inc, 3, 20 * SAMPLE_RATE, 1.0, speech_s=0.9)  # 16 s later: alone
    assert script.calls == [None, "good morning", None]


@dataclass
class BufferRecorder:
    """Answers with fixed words (buffer seconds) and keeps every buffer it was given."""

    words: list[Word]
    buffers: list[FloatArray] = field(default_factory=list)

    def transcribe(self, audio: FloatArray, *, prompt: str | None, max_new_tokens: int) -> list[Word]:
        self.buffers.append(audio.copy())
        return list(self.words)


def test_the_end_of_the_previous_utterance_is_decoded_in_front_and_not_committed_again() -> None:
    """With context_audio_ms, the next utterance's buffer starts with the previous one's last
    audio and the pause as silence; the words heard there are not committed a second time."""
    first = np.full(int(1.5 * SAMPLE_RATE), 0.25, np.float32)
    second = np.full(int(1.0 * SAMPLE_RATE), 0.5, np.float32)
    # 1st utterance at stream 0-1.5 s: "good morning" at 0.2-0.8 s
    # 2nd utterance at 2.0-3.0 s; its buffer starts at 1.5 - 1.0 = 0.5 s: "morning" (0.5-0.8 s
    # in stream time = 0.0-0.3 s of the buffer) is context, "how are you" is new
    script = BufferRecorder(timed("good morning"))
    inc = IncrementalTranscriber(script, AsrConfig(context_audio_ms=1000, context_chars=0))
    inc.handle(SpeechBegins(1, 0, 0))
    inc.handle(SpeechAudio(1, first, 0))
    inc.handle(SpeechEnds(1, len(first), len(first)))
    script.words = [Word("morning", 0.0, 0.3, 0.9), *timed("how are you", start=1.55)]
    inc.handle(SpeechBegins(2, 2 * SAMPLE_RATE, 2 * SAMPLE_RATE))
    inc.handle(SpeechAudio(2, second, 2 * SAMPLE_RATE))
    events = inc.handle(SpeechEnds(2, 3 * SAMPLE_RATE, 3 * SAMPLE_RATE))
    final = next(e for e in events if isinstance(e, TranscriptFinal))
    assert final.text == "how are you"
    assert final.words[0].start_s == 2.05  # 0.5 s (buffer start) + 1.55 s
    buffer = script.buffers[-1]  # 1 s of the first utterance, the 0.5 s pause, the new 1 s
    assert len(buffer) == int(2.5 * SAMPLE_RATE)
    assert np.all(buffer[:SAMPLE_RATE] == 0.25)
    assert np.all(buffer[SAMPLE_RATE : int(1.5 * SAMPLE_RATE)] == 0.0)
    assert np.all(buffer[int(1.5 * SAMPLE_RATE) :] == 0.5)


def test_no_audio_context_after_a_long_pause() -> None:
    script = BufferRecorder(timed("good morning"))
    inc = IncrementalTranscriber(script, AsrConfig(context_audio_ms=1000, context_chars=0))
    utterance(inc, 1, 0, 1.5, speech_s=1.5)
    utterance(inc, 2, 10 * SAMPLE_RATE, 1.0, speech_s=1.0)  # 8.5 s later
    assert len(script.buffers[-1]) == SAMPLE_RATE


def test_an_unsure_word_waits_for_the_longer_margin_and_the_final_pass_commits_it() -> None:
    """``commit_min_probability``: a word Whisper was unsure of stops the commits at it during
    speech until a pass heard ``commit_unsure_margin_ms`` after it; the end of speech commits it."""
    words = timed("we need more players")  # end at 0.5, 0.8, 1.1, 1.4
    words[1] = Word("need", words[1].start_s, words[1].end_s, 0.4)
    config = AsrConfig(
        context_audio_ms=0, commit_margin_ms=500, commit_min_probability=0.6, commit_unsure_margin_ms=1000
    )
    inc = IncrementalTranscriber(ScriptedRecognizer(words), config)
    inc.handle(SpeechBegins(1, 0, 0))
    fed = [0]

    def committed_after(seconds: float) -> list[str]:
        samples = int(seconds * SAMPLE_RATE) - fed[0]
        inc.handle(SpeechAudio(1, np.zeros(samples, np.float32), fed[0]))
        fed[0] += samples
        return [w.text for e in inc.decode() if isinstance(e, WordsCommitted) for w in e.words]

    assert committed_after(1.6) == []  # the first pass: nothing to agree with
    assert committed_after(1.7) == ["we"]  # "need" was heard 0.9 s past: unsure, it waits
    assert committed_after(1.85) == ["need", "more"]  # 1.05 s past; "players" is within 0.5 s
    events = inc.handle(SpeechEnds(1, int(1.5 * SAMPLE_RATE), int(1.85 * SAMPLE_RATE)))
    finals = [e for e in events if isinstance(e, TranscriptFinal)]
    assert finals[0].text == "we need more players"
