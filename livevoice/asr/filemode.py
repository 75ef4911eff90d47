"""File mode: the live VAD + incremental ASR path, driven from a file as fast as it computes.

The audio is fed in ``step_ms`` pieces (300 ms by default on a CPU), and the transcriber
decodes whenever it would in the live loop, so file mode exercises exactly the code the microphone path runs.
Times in the events are stream positions; the ``t_*_ns`` stamps are audio time
(position / rate), not wall-clock, so a file gives the same events every run.
"""

from __future__ import annotations

from collections.abc import Iterator

from livevoice.asr.incremental import IncrementalTranscriber
from livevoice.asr.vad import SAMPLE_RATE, SpeechDetector, SpeechProbability
from livevoice.asr.whisper import WordRecognizer
from livevoice.config import Config
from livevoice.frames import FloatArray, TranscriptEvent


def transcribe_samples(
    samples: FloatArray, config: Config, recognizer: WordRecognizer, vad: SpeechProbability
) -> Iterator[TranscriptEvent]:
    """Transcript events for 16 kHz mono ``samples``, in stream order."""
    detector = SpeechDetector(config.vad, vad)
    fed = 0

    def audio_clock() -> int:
        return fed * 1_000_000_000 // SAMPLE_RATE

    transcriber = IncrementalTranscriber(
        recognizer, config.asr, clock=audio_clock, end_silence_ms=config.vad.min_silence_ms
    )
    step = transcriber.step_ms * SAMPLE_RATE // 1000
    for start in range(0, len(samples), step):
        piece = samples[start : start + step]
        fed = start + len(piece)
        for event in detector.feed(piece):
            yield from transcriber.handle(event)
        if transcriber.should_decode(detector.trailing_silence_ms):
            yield from transcriber.decode()
    for event in detector.flush():
        yield from transcriber.handle(event)
