"""``livevoice listen``: the front half of the loop alone (microphone -> VAD -> ASR).

Prints the live transcript; no TTS model, no output device. For checking a
microphone and the recogniser, and for apps that only want live captions.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from livevoice.audio.budget import plan_buffers
from livevoice.audio.devices import list_devices
from livevoice.audio.sink_route import choose_endpoint
from livevoice.config import Config
from livevoice.frames import (
    TranscriptEvent,
    TranscriptFinal,
    TranscriptPartial,
    WordsCommitted,
    record_to_dict,
)

log = logging.getLogger(__name__)


def run_listen(config: Config, *, json_events: bool = False) -> int:
    """Run until SIGINT/SIGTERM; returns the exit code."""
    from livevoice.asr.live import LiveTranscriber
    from livevoice.asr.vad import SileroVad
    from livevoice.asr.whisper import WhisperRecognizer

    plan = plan_buffers(config.audio.latency_budget_ms, config.audio.sample_rate)
    log.warning("%s", plan.describe())
    device, route = choose_endpoint(config.audio.input_device, "input", list_devices())
    recognizer = WhisperRecognizer(config.asr)
    printer = _printer(json_events)
    live = LiveTranscriber(config, plan, device, recognizer, SileroVad(), printer, route=route)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    live.start()
    print(
        f"livevoice: listening on {live.capture.device_name!r}; Ctrl-C to stop", file=sys.stderr, flush=True
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        live.stop()
        log.warning("stopped: %s", live.stats())
    return 0


def _printer(json_events: bool) -> Callable[[TranscriptEvent], None]:
    def emit(event: TranscriptEvent) -> None:
        if json_events:
            if not isinstance(event, TranscriptPartial):
                print(json.dumps(record_to_dict(event)), flush=True)
        elif isinstance(event, WordsCommitted):
            print("  … " + " ".join(w.text for w in event.words), flush=True)
        elif isinstance(event, TranscriptFinal):
            print(f"[{event.start_s:7.2f} - {event.end_s:7.2f}] {event.text}", flush=True)

    return emit
