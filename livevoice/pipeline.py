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
VAD->ASR event queue and the phrase queue; what overflows is counted and reported. With
``[text] segment_on = "stream"`` a phrase is queued on its first words and its later
pieces go straight to it (never blocking the ASR thread) while the TTS speaks it.
Modes: ``convert`` (the loop above), ``passthrough`` (the microphone straight to the
output; no model in the path), ``mute`` (nothing goes out). With push-to-talk enabled
the microphone only reaches the recogniser while the button is pressed.

What apps change (mode, push-to-talk, voice, text settings) is read from the
:class:`~livevoice.controls.LiveControls` the pipeline is given, never copied; changes
that need an action here (cut what is spoken) arrive through :meth:`Pipeline.on_control`.
What the loop reports goes out as typed records (:data:`~livevoice.frames.LoopRecord`)
through ``emit``: this module knows nothing of the control protocol.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from livevoice.asr.live import LiveTranscriber
from livevoice.asr.vad import SpeechProbability
from livevoice.asr.whisper import WordRecognizer
from livevoice.audio.budget import BufferPlan
from livevoice.audio.devices import DeviceInfo
from livevoice.audio.health import WatchedStream
from livevoice.audio.output import AudioOutput
from livevoice.audio.sink_route import SinkRoute
from livevoice.config import Config
from livevoice.controls import LiveControls
from livevoice.frames import (
    ControlChange,
    FloatArray,
    LatencyStamps,
    LevelMeters,
    LoopRecord,
    LoopStats,
    ModeChanged,
    Phrase,
    SpeechEnded,
    SpeechStarted,
    StageError,
    TranscriptEvent,
    TranscriptFinal,
    TranscriptPartial,
    VoiceChanged,
    WordsCommitted,
)
from livevoice.latency import LatencyTracker
from livevoice.text.stage import TextStage
from livevoice.tts.engine import TtsEngine
from livevoice.tts.realtime import RealTimeMonitor
from livevoice.tts.worker import TtsWorker

log = logging.getLogger(__name__)

Emit = Callable[[LoopRecord], object]
"""Takes every record the loop reports, from any of its threads; must not block."""

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
        controls: LiveControls,
        emit: Emit,
        on_failure: Callable[[str, str], object] | None = None,
        routes: Mapping[str, SinkRoute] | None = None,
        typed_ids: Iterator[int] | None = None,
        realtime: RealTimeMonitor | None = None,
    ) -> None:
        self.config = config
        self.plan = plan
        self.controls = controls
        self.emit = emit
        self.on_failure = on_failure
        """Called (source, message) after an ASR or TTS failure was reported."""
        self.tracker = LatencyTracker(self._on_latency)
        self.output = AudioOutput(plan, devices["output"], devices["monitor"], routes)
        self.tts = TtsWorker(
            engine,
            self.output,
            controls.voice_for_phrase,
            self.tracker,
            emit,
            on_failure=self._stage_failed,
            realtime=realtime or RealTimeMonitor(config.tts.real_time_warning),
        )
        self.text = TextStage(controls.text_settings)
        self.front = LiveTranscriber(
            config,
            plan,
            devices["input"],
            recognizer,
            vad,
            self._on_transcript,
            on_audio=self._on_mic,
            gate=controls.listening,
            on_error=self._asr_failed,
            route=(routes or {}).get("input"),
        )
        self._typed_ids = typed_ids if typed_ids is not None else itertools.count(TYPED_UTTERANCE_BASE)
        """Ids of typed utterances (shared by the pipelines a daemon builds, so none is used twice)."""
        self.typed_utterances = 0
        """Typed utterances (Speak) this pipeline took."""
        self.input_level = (0.0, 0.0)
        """(peak, rms) of the last captured block, linear full scale."""
        self._speech_active = False

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self.output.start()
        self.tts.start()
        self.front.start()

    def stop(self, *, drain_s: float = 0.0) -> None:
        """Stop listening, let queued speech finish for up to ``drain_s``, close the devices."""
        self.front.stop()
        for phrase in self.text.abandon(time.monotonic_ns()):  # no more words: a streamed
            self._say(phrase)  # phrase is closed, so what it was given can be spoken to its end
        self.tts.stop(drain_s=drain_s)
        if drain_s:
            deadline = time.monotonic() + drain_s
            while not self.output.drained() and time.monotonic() < deadline:
                time.sleep(0.01)
        self.output.close()

    # -- what flows ----------------------------------------------------------------

    def _on_mic(self, block: FloatArray) -> None:
        """VAD thread: every captured block (passthrough copies it to the output)."""
        if len(block):
            self.input_level = (float(np.max(np.abs(block))), float(np.sqrt(np.mean(block * block))))
        if self.controls.passing_through():
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
            self.emit(event)
        if isinstance(event, TranscriptPartial):
            return
        self.text.use(self.controls.text_settings)
        phrases: Sequence[Phrase] = ()
        if isinstance(event, WordsCommitted):
            phrases = self.text.on_words(event.utterance_id, event.words, event.t_commit_ns)
        elif isinstance(event, TranscriptFinal):
            phrases = self.text.on_final(event)
        for phrase in phrases:
            self._say(phrase)

    def _say(self, phrase: Phrase) -> None:
        empty = not phrase.text.strip() and not getattr(phrase, "parts", ())
        if empty and phrase.piece == 0:
            if phrase.final and phrase.phrase_index == 0:  # nothing at all was said
                self.tracker.abandon(phrase.utterance_id)
            return  # a final phrase without parts only marks the end of the utterance
        self.tts.submit(phrase)  # (a later piece without parts closes its streamed phrase)

    def _asr_failed(self, source: str, message: str) -> None:
        """ASR thread: the utterance is dropped; a phrase of it being streamed is closed."""
        for phrase in self.text.abandon(time.monotonic_ns()):
            self._say(phrase)
        self._stage_failed(source, message)

    def _stage_failed(self, source: str, message: str) -> None:
        """An ASR or TTS failure: reported; the loop goes on (the daemon may fall back)."""
        self.emit(StageError(source, message))
        if self.on_failure is not None:
            self.on_failure(source, message)

    def speak(self, text: str) -> int:
        """Type-to-speak: ``text`` goes to the TTS as one phrase; returns its utterance id."""
        uid = next(self._typed_ids)
        self.typed_utterances += 1
        self.tracker.begin_typed(uid)
        self.tts.submit(Phrase(uid, 0, text, True, time.monotonic_ns()))
        return uid

    def _on_latency(self, stamps: LatencyStamps) -> None:
        log.info(
            "utterance %d latency: TTS first packet %s ms, output first packet %s ms, mouth-to-ear %s ms",
            stamps.utterance_id,
            _fmt(stamps.tts_first_packet_ms),
            _fmt(stamps.output_first_packet_ms),
            _fmt(stamps.mouth_to_ear_ms),
        )
        self.emit(stamps)

    # -- what apps change ------------------------------------------------------------

    def on_control(self, change: ControlChange) -> None:
        """A change of the live controls: leaving ``convert`` cuts what is being spoken (and
        what is queued); a voice applied ``now`` cuts the phrase being spoken."""
        if isinstance(change, ModeChanged) and change.mode != "convert":
            self.tts.stop_speaking()
        elif isinstance(change, VoiceChanged) and change.apply == "now":
            self.tts.skip_current()

    def stop_speaking(self) -> None:
        self.tts.stop_speaking()

    # -- what apps read ------------------------------------------------------------

    @property
    def speech_active(self) -> bool:
        return self._speech_active

    @property
    def speaking(self) -> bool:
        return self.tts.speaking or not self.output.drained()

    def levels(self) -> LevelMeters:
        """Levels of the last captured block and of what is played (silence when nothing is)."""
        in_peak, in_rms = self.input_level
        out_peak, out_rms = self.output.level if self.speaking else (0.0, 0.0)
        return LevelMeters(in_peak, in_rms, out_peak, out_rms)

    def streams(self) -> dict[str, WatchedStream]:
        """role -> the device stream (for the device health checks)."""
        streams: dict[str, WatchedStream] = {"input": self.front.capture, "output": self.output.stream}
        if self.output.monitor is not None:
            streams["monitor"] = self.output.monitor
        return streams

    def stats(self) -> LoopStats:
        """Recent latency figures and the counters."""
        figures = self.tracker.snapshot()
        return LoopStats(
            self.tracker.completed,
            tuple(figures["tts_first_packet_ms"]),
            tuple(figures["output_first_packet_ms"]),
            tuple(figures["mouth_to_ear_ms"]),
            self.counters(),
            self.tts.realtime.factor,
        )

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
