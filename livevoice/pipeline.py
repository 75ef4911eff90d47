"""The whole loop in one place: microphone -> VAD -> ASR -> text -> TTS -> virtual mic.

::

    capture callback ─► capture ring ─► [VAD thread] ─► events ─► [ASR thread]
                                             │ passthrough                │ transcript events
                                             ▼                            ▼
                                         output ring ◄─ [TTS thread] ◄─ phrases ◄─ text stage
                                             │                  ▲ voice at each phrase start
                                             ▼
                                   playback callback ─► output device (+ monitor)

Every arrow between threads is bounded: the rings (sized from the latency budget), the
VAD->ASR event queue and the phrase queue; what overflows is counted and reported.
Modes: ``convert`` (the loop above), ``passthrough`` (the microphone straight to the
output; no model in the path), ``mute`` (nothing goes out). With push-to-talk enabled
the microphone only reaches the recogniser while the button is pressed.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from livevoice.asr.live import LiveTranscriber
from livevoice.asr.vad import SpeechProbability
from livevoice.asr.whisper import WordRecognizer
from livevoice.audio.budget import BufferPlan
from livevoice.audio.devices import DeviceInfo
from livevoice.audio.output import AudioOutput
from livevoice.audio.sink_route import SinkRoute
from livevoice.config import Config
from livevoice.control.events import ErrorEvent, UtteranceLatencyEvent, event_for_frame
from livevoice.control.records import Mode
from livevoice.frames import (
    FloatArray,
    LatencyStamps,
    Phrase,
    SpeechEnded,
    SpeechStarted,
    TranscriptEvent,
    TranscriptFinal,
    TranscriptPartial,
    WordsCommitted,
)
from livevoice.latency import LatencyTracker
from livevoice.text.stage import TextStage
from livevoice.tts.engine import TtsEngine
from livevoice.tts.worker import TtsWorker, VoiceProvider

log = logging.getLogger(__name__)

Publish = Callable[[Any], object]
"""Takes an event record (the control server's ``publish_event``); never blocks."""

TYPED_UTTERANCE_BASE = 1_000_000
"""Typed (Speak) utterances are numbered from here, apart from spoken ones."""


class Pipeline:
    """Builds the stages, starts and stops them, and routes records between them."""

    def __init__(
        self,
        config: Config,
        plan: BufferPlan,
        devices: dict[str, DeviceInfo | None],
        recognizer: WordRecognizer,
        vad: SpeechProbability,
        engine: TtsEngine,
        voice_for_phrase: VoiceProvider,
        publish: Publish,
        on_failure: Callable[[str, str], object] | None = None,
        routes: Mapping[str, SinkRoute] | None = None,
    ) -> None:
        self.config = config
        self.plan = plan
        self.publish = publish
        self.on_failure = on_failure
        self.mode: Mode = "convert"
        self.push_to_talk_enabled = False
        self.push_to_talk_pressed = False
        self.tracker = LatencyTracker(self._on_latency)
        self.output = AudioOutput(plan, devices["output"], devices["monitor"], routes)
        self.tts = TtsWorker(
            engine, self.output, voice_for_phrase, self.tracker, publish, on_failure=self._stage_failed
        )
        self.text = TextStage(config.text)
        self.front = LiveTranscriber(
            config,
            plan,
            devices["input"],
            recognizer,
            vad,
            self._on_transcript,
            on_audio=self._on_mic,
            gate=self._listening,
            on_error=self._stage_failed,
            route=(routes or {}).get("input"),
        )
        self._typed_ids = itertools.count(TYPED_UTTERANCE_BASE)
        self.input_level = (0.0, 0.0)
        """(peak, rms) of the last captured block, linear full scale."""
        self._speech_active = False
        self.utterances = 0

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self.output.start()
        self.tts.start()
        self.front.start()

    def stop(self, *, drain_s: float = 0.0) -> None:
        """Stop listening, let queued speech finish for up to ``drain_s``, close the devices."""
        self.front.stop()
        self.tts.stop(drain_s=drain_s)
        if drain_s:
            deadline = time.monotonic() + drain_s
            while not self.output.drained() and time.monotonic() < deadline:
                time.sleep(0.01)
        self.output.close()

    # -- what flows ----------------------------------------------------------------

    def _listening(self) -> bool:
        """Whether the microphone reaches the recogniser now."""
        if self.mode != "convert":
            return False
        return not self.push_to_talk_enabled or self.push_to_talk_pressed

    def _on_mic(self, block: FloatArray) -> None:
        """VAD thread: every captured block (passthrough copies it to the output)."""
        if len(block):
            self.input_level = (float(np.max(np.abs(block))), float(np.sqrt(np.mean(block * block))))
        if self.mode == "passthrough" and (not self.push_to_talk_enabled or self.push_to_talk_pressed):
            self.output.write(block, wait=False)

    def _on_transcript(self, event: TranscriptEvent) -> None:
        """ASR thread: stamp, report, and turn committed words into phrases."""
        if isinstance(event, SpeechStarted):
            self._speech_active = True
            self.tracker.stamp(event.utterance_id, "speech_start", event.t_ns)
        elif isinstance(event, SpeechEnded):
            self._speech_active = False
            self.tracker.stamp(event.utterance_id, "speech_end", event.t_ns)
        if not isinstance(event, WordsCommitted):
            self.publish(event_for_frame(event))
        if isinstance(event, TranscriptPartial):
            return
        phrases: Sequence[Phrase] = ()
        if isinstance(event, WordsCommitted):
            phrases = self.text.on_words(event.utterance_id, event.words, event.t_commit_ns)
        elif isinstance(event, TranscriptFinal):
            self.utterances += 1
            phrases = self.text.on_final(event)
        for phrase in phrases:
            self._say(phrase)

    def _say(self, phrase: Phrase) -> None:
        if not phrase.text.strip() and not getattr(phrase, "parts", ()):
            if phrase.final and phrase.phrase_index == 0:  # nothing at all was said
                self.tracker.abandon(phrase.utterance_id)
            return  # a final phrase without parts only marks the end of the utterance
        self.tts.submit(phrase)

    def _stage_failed(self, source: str, message: str) -> None:
        """An ASR or TTS failure: reported; the loop goes on (the daemon may fall back)."""
        self.publish(ErrorEvent(source, message))
        if self.on_failure is not None:
            self.on_failure(source, message)

    def speak(self, text: str) -> int:
        """Type-to-speak: ``text`` goes to the TTS as one phrase; returns its utterance id."""
        uid = next(self._typed_ids)
        self.tracker.begin_typed(uid)
        self.tts.submit(Phrase(uid, 0, text, True, time.monotonic_ns()))
        return uid

    def _on_latency(self, stamps: LatencyStamps) -> None:
        event = event_for_frame(stamps)
        assert isinstance(event, UtteranceLatencyEvent)
        log.info(
            "utterance %d latency: TTS first packet %s ms, output first packet %s ms, mouth-to-ear %s ms",
            stamps.utterance_id,
            _fmt(stamps.tts_first_packet_ms),
            _fmt(stamps.output_first_packet_ms),
            _fmt(stamps.mouth_to_ear_ms),
        )
        self.publish(event)

    # -- what apps change ------------------------------------------------------------

    def set_mode(self, mode: Mode) -> None:
        """Switch mode; leaving ``convert`` cuts what is being spoken."""
        if mode == self.mode:
            return
        self.mode = mode
        if mode != "convert":
            self.tts.stop_speaking()

    def stop_speaking(self) -> None:
        self.tts.stop_speaking()

    # -- what apps read ------------------------------------------------------------

    @property
    def speech_active(self) -> bool:
        return self._speech_active

    @property
    def speaking(self) -> bool:
        return self.tts.speaking or not self.output.drained()

    def counters(self) -> dict[str, int]:
        front = self.front.stats()
        return {
            "captureOverruns": int(front["capture_overrun_events"]),
            "captureOverrunSamples": int(front["capture_overrun_samples"]),
            "captureDeviceFlags": int(front["device_flags"]),
            "captureStalls": int(front["capture_stalls"]),
            "vadQueueDrops": int(front["dropped_vad_events"]),
            "asrErrors": int(front["asr_errors"]),
            "asrDecodes": int(front["asr_decodes"]),
            "phrasesSpoken": self.tts.phrases_spoken,
            "phraseDrops": self.tts.phrases_dropped,
            "ttsErrors": self.tts.errors,
            "latencyAbandoned": self.tracker.abandoned,
            **self.output.counters(),
        }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


__all__ = ["Pipeline"]
