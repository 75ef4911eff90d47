"""The panel in a real headless Chromium against the full daemon on the PipeWire rig
(tiny.en + a tiny random-weight Qwen3-TTS): load, log in, switch the voice (checked with
`livevoice ctl GetStatus`), speak typed text (it reaches the TTS), see its latency bar,
level meters, a transcript of real speech, and the banners for a lost device and a machine
that cannot keep up."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from daemon_harness import Running, cli, play
from panel_browser import chromium, ctl, screenshot, settled, text_of, wait_js, wait_until
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from livevoice.config import Config, load_config
from livevoice.control.events import RealTimeWarningEvent
from livevoice.models import Models, load_models
from livevoice.testing.speech import espeak
from livevoice.tts.engine import TtsStream
from livevoice.voices.embedding import Voice, VoiceMeta, save_voice

TYPED = "Hello from the panel."
SPOKEN = "Good evening and welcome to the stream."


@pytest.fixture(scope="module")
def config(
    audio_rig: Path, tmp_path_factory: pytest.TempPathFactory, tiny_qwen_dir: Path
) -> Iterator[Config]:
    root = tmp_path_factory.mktemp("panel-daemon")
    (root / "voices").mkdir()
    rng = np.random.default_rng(11)
    for name in ("alpha", "beta"):
        vector = rng.normal(0, 1, 64).astype(np.float32)
        save_voice(root / "voices" / f"{name}.safetensors", Voice(vector, VoiceMeta(name=name, note="test")))
    path = root / "config.toml"
    path.write_text(
        f'[audio]\ninput_device = "lvtest_mic"\noutput_device = "livevoice_out"\n'
        f'[tts]\nmodel = "{tiny_qwen_dir}"\ntorch_threads = 1\nseed = 1\n'
        f'[voices]\nlibrary = "{root / "voices"}"\ndefault_voice = "alpha"\n'
        f'[control]\nport = 0\nsecret_file = "{root / "secret"}"\n'
    )
    espeak(SPOKEN, root / "spoken.wav")
    cli("virtual-mic", "create")
    yield load_config(path)
    cli("virtual-mic", "remove")


@pytest.fixture(scope="module")
def models(config: Config) -> Models:
    return load_models(config)


@dataclass
class RecordingEngine:
    """The real TTS engine, with a record of the text of every phrase it was asked to speak."""

    inner: Any
    texts: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open(self, embedding: np.ndarray, text: str = "", *, final: bool = True) -> TtsStream:
        self.texts.append(text)
        stream: TtsStream = self.inner.open(embedding, text, final=final)
        return stream


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()


@pytest.mark.rig
@pytest.mark.slow
def test_the_panel_on_the_running_daemon(config: Config, models: Models) -> None:
    engine = RecordingEngine(models.engine)
    recording = Models(models.recognizer, models.vad, engine)
    secret_file = Path(config.control.secret_file)
    with Running(config, recording) as running, chromium(width=350) as driver:
        port = running.daemon.server.port
        driver.get(f"http://127.0.0.1:{port}/#secret={urllib.parse.quote(running.secret, safe='')}")
        wait_js(driver, "document.body.dataset.ready === 'true'")
        assert not driver.find_element(By.ID, "audio-off").is_displayed()  # the audio loop runs

        # the library; a click changes the daemon's voice
        listed = driver.execute_script(
            "return [...document.querySelectorAll('#voice-list button')].map(b => b.dataset.voice);"
        )
        assert listed == ["alpha", "beta"]
        assert ctl(port, secret_file, "GetStatus")["voice"] == "alpha"
        driver.find_element(By.CSS_SELECTOR, '#voice-list button[data-voice="beta"]').click()
        wait_js(driver, "document.getElementById('current-voice').textContent === 'beta'")
        assert ctl(port, secret_file, "GetStatus")["voice"] == "beta"

        # a typed phrase reaches the daemon as a Speak request and is spoken; its latency is drawn
        before = len(engine.texts)
        driver.find_element(By.ID, "speak-text").send_keys(TYPED, Keys.ENTER)
        settled(driver)
        found = re.fullmatch(
            rf"Speaking “{re.escape(TYPED)}” \(utterance (\d+)\)\.", text_of(driver, "#notice")
        )
        assert found, text_of(driver, "#notice")
        row = f".latency-row[data-utterance='{found.group(1)}']"
        wait_js(driver, f'document.querySelector("{row}")', timeout_s=120)
        assert words(" ".join(engine.texts[before:])) == words(TYPED)
        segments = driver.execute_script(
            f'return [...document.querySelectorAll("{row} .bar > div")]'
            ".map(e => [e.className, e.dataset.ms]);"
        )
        assert [name for name, _ in segments] == ["asr", "tts", "out"]
        assert segments[0][1] == ""  # typed text has no speech end
        assert float(segments[1][1]) > 0 and float(segments[2][1]) >= 0

        # level meters move; real speech into the microphone shows up as a transcript
        wait_js(driver, "document.getElementById('meter-in-db').textContent !== '–'")
        play(Path(config.voices.library).parent / "spoken.wav")
        wait_js(driver, "document.querySelector('#transcript-list li.final')", timeout_s=120)
        final = text_of(driver, "#transcript-list li.final")
        assert len(set(words(final)) & set(words(SPOKEN))) >= 4, final
        # ... converted: its bar starts at the end of speech
        utterance = driver.execute_script(
            "return document.querySelector('#transcript-list li.final').dataset.utterance"
        )
        spoken_row = f".latency-row[data-utterance='{utterance}']"
        wait_js(driver, f'document.querySelector("{spoken_row}")', timeout_s=120)
        assert text_of(driver, f"{spoken_row} .id") == f"#{utterance}"
        assert driver.execute_script(f'return document.querySelector("{spoken_row} .asr").dataset.ms') != ""
        screenshot(driver, "daemon-350px")

        # a machine that cannot keep up is told so
        running.daemon.server.publish_event(RealTimeWarningEvent(2.5, "Use a GPU for real time."))
        wait_js(driver, "document.querySelector(\".banner[data-key='real-time']\")")

        # a lost device: the banner while it is gone, gone once it is back
        cli("virtual-mic", "remove")
        banner = ".banner[data-key='device-lost-output']"
        wait_js(driver, f'document.querySelector("{banner}")', timeout_s=30)
        assert "livevoice_out" in text_of(driver, banner)
        screenshot(driver, "daemon-device-lost-350px")
        cli("virtual-mic", "create")
        wait_js(driver, f'!document.querySelector("{banner}")', timeout_s=30)
        wait_until(driver, lambda d: "works again" in text_of(d, "#notice"), what="the restored notice")
