"""The panel in a real headless Chromium against real servers: `livevoice run --control-only`
as a user starts it (state checked with `livevoice ctl`), and an in-process control server
whose events the page must show."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from panel_browser import ControlOnly, chromium, ctl, screenshot, settled, text_of, wait_js, wait_until
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select
from test_control_support import SECRET as SERVER_SECRET
from test_control_support import control_config, control_only, make_library

from livevoice.control.events import (
    DeviceLostEvent,
    DeviceRestoredEvent,
    ErrorEvent,
    LevelMetersEvent,
    RealTimeWarningEvent,
    TranscriptFinalEvent,
    TranscriptPartialEvent,
    UtteranceLatencyEvent,
)
from livevoice.control.server import ControlServer, ControlServerThread
from livevoice.voices.embedding import Voice, VoiceMeta
from livevoice.voices.library import VoiceLibrary

SECRET = "panel-test-secret-0123456789"
VOICES = ("alice", "bob", "carol", "dave-the-narrator")


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    """A config for control-only mode: a library of four voices, port 0, a secret, a word list."""
    library = VoiceLibrary(tmp_path / "voices")
    rng = np.random.default_rng(5)
    for name in VOICES:
        library.add(Voice(rng.normal(0, 1, 1024).astype(np.float32), VoiceMeta(name=name, note="test voice")))
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    (tmp_path / "words.txt").write_text("darn\n")
    (tmp_path / "config.toml").write_text(
        f'[voices]\nlibrary = "{library.folder}"\ndefault_voice = "alice"\n'
        f'[control]\nport = 0\nsecret_file = "{secret}"\n'
    )
    return tmp_path


def page_url(port: int, secret: str | None = SECRET) -> str:
    fragment = f"#secret={urllib.parse.quote(secret, safe='')}" if secret is not None else ""
    return f"http://127.0.0.1:{port}/{fragment}"


def open_panel(driver: Any, port: int, secret: str | None = SECRET) -> None:
    driver.get(page_url(port, secret))
    wait_js(driver, "document.body.dataset.ready === 'true'")


def click(driver: Any, selector: str) -> None:
    driver.find_element(By.CSS_SELECTOR, selector).click()


def listed_voices(driver: Any) -> list[str]:
    names: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('#voice-list button')].map(b => b.dataset.voice);"
    )
    return names


def notice(driver: Any) -> str:
    return text_of(driver, "#notice")


def test_the_panel_drives_a_control_only_daemon(setup: Path) -> None:
    secret_file = setup / "secret"
    with ControlOnly(setup / "config.toml") as daemon, chromium(width=350) as driver:
        port = daemon.port

        def status() -> Any:
            return ctl(port, secret_file, "GetStatus")

        open_panel(driver, port)
        # the secret left the address bar and lives in this origin's storage
        assert driver.current_url == f"http://127.0.0.1:{port}/"
        assert driver.execute_script("return localStorage.getItem('livevoice.secret')") == SECRET
        assert text_of(driver, "#connection") == "connected"
        assert driver.find_element(By.ID, "audio-off").is_displayed()  # control-only, said so

        # the library, searchable; a click switches the daemon's voice
        assert listed_voices(driver) == list(VOICES)
        assert text_of(driver, "#current-voice") == "alice"
        driver.find_element(By.ID, "voice-search").send_keys("CA")
        assert listed_voices(driver) == ["carol"]
        driver.find_element(By.ID, "voice-search").clear()
        driver.find_element(By.ID, "voice-search").send_keys("zz")
        assert listed_voices(driver) == [] and driver.find_element(By.ID, "voice-empty").is_displayed()
        driver.find_element(By.ID, "voice-search").send_keys(Keys.BACKSPACE, Keys.BACKSPACE)
        click(driver, '#voice-list button[data-voice="bob"]')
        wait_js(
            driver, "document.querySelector('#voice-list button[data-voice=\"bob\"]').ariaCurrent === 'true'"
        )
        assert text_of(driver, "#current-voice") == "bob"
        assert status()["voice"] == "bob"

        # modes
        click(driver, '[data-mode="mute"]')
        wait_js(driver, "document.querySelector('[data-mode=\"mute\"]').ariaPressed === 'true'")
        assert status()["mode"] == "mute"
        click(driver, '[data-mode="passthrough"]')
        wait_js(driver, "document.querySelector('[data-mode=\"passthrough\"]').ariaPressed === 'true'")
        assert status()["mode"] == "passthrough"
        assert driver.execute_script("return document.querySelector('[data-mode=\"mute\"]').ariaPressed") == (
            "false"
        )

        # push to talk: gating switch, the key (Space) and the button
        click(driver, "#ptt-enabled")
        settled(driver)
        assert status()["pushToTalkEnabled"] is True
        ActionChains(driver).key_down(Keys.SPACE).perform()
        settled(driver)
        assert status()["pushToTalkPressed"] is True
        ActionChains(driver).key_up(Keys.SPACE).perform()
        settled(driver)
        assert status()["pushToTalkPressed"] is False
        ptt = driver.find_element(By.ID, "ptt")
        ActionChains(driver).click_and_hold(ptt).perform()
        settled(driver)
        assert ptt.get_attribute("aria-pressed") == "true"
        assert status()["pushToTalkPressed"] is True
        ActionChains(driver).release().perform()
        settled(driver)
        assert status()["pushToTalkPressed"] is False

        # mix with the slider, morph with a duration
        Select(driver.find_element(By.ID, "morph-a")).select_by_value("alice")
        Select(driver.find_element(By.ID, "morph-b")).select_by_value("carol")
        slider = driver.find_element(By.ID, "morph-slider")
        driver.execute_script(
            "arguments[0].value = '30'; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
            slider,
        )
        assert text_of(driver, "#mix-weights") == "70% alice + 30% carol"
        settled(driver)
        current = ctl(port, secret_file, "GetCurrentVoice")
        assert current["voice"] == "mix:0.7*alice+0.3*carol" and current["transient"] is True
        assert text_of(driver, "#current-voice") == "mix:0.7*alice+0.3*carol"
        seconds = driver.find_element(By.ID, "morph-seconds")
        seconds.clear()
        seconds.send_keys("300")
        Select(driver.find_element(By.ID, "morph-curve")).select_by_value("linear")
        click(driver, "#morph-to-b")
        wait_js(driver, "!document.getElementById('morph-progress').hidden")
        morph = ctl(port, secret_file, "GetCurrentVoice")["morph"]
        assert morph["toVoice"] == "carol" and morph["durationMs"] == 300_000 and morph["curve"] == "linear"
        assert morph["fromVoice"] == "mix:0.7*alice+0.3*carol"

        # text stage toggles
        click(driver, "#clean-disfluencies")
        settled(driver)
        assert ctl(port, secret_file, "GetTextOptions")["cleanDisfluencies"] is True
        words = str(setup / "words.txt")
        driver.find_element(By.ID, "filter-file").send_keys(words)
        click(driver, "#word-filter")
        settled(driver)
        assert ctl(port, secret_file, "GetTextOptions")["wordFilterFile"] == words
        Select(driver.find_element(By.ID, "filter-action")).select_by_value("drop")
        settled(driver)
        assert ctl(port, secret_file, "GetTextOptions")["filterAction"] == "drop"
        click(driver, "#word-filter")
        settled(driver)
        assert ctl(port, secret_file, "GetTextOptions")["wordFilterFile"] == ""
        missing = str(setup / "missing.txt")
        field = driver.find_element(By.ID, "filter-file")
        field.clear()
        field.send_keys(missing)
        click(driver, "#word-filter")
        settled(driver)
        assert f"word filter list {missing} does not exist" in notice(driver)
        assert not driver.find_element(By.ID, "word-filter").is_selected()
        assert ctl(port, secret_file, "GetTextOptions")["wordFilterFile"] == ""

        # type to speak: control-only mode has no audio loop, and the page says so
        driver.find_element(By.ID, "speak-text").send_keys("Hello there", Keys.ENTER)
        settled(driver)
        assert notice(driver) == "Speak: needs the audio loop; this daemon runs with --control-only."

        # fits a 350 px dock: nothing sticks out sideways
        width, scroll = driver.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth];"
        )
        assert width == 350 and scroll <= width
        screenshot(driver, "control-only-350px")


def test_a_wrong_secret_gets_a_clear_message(setup: Path) -> None:
    with ControlOnly(setup / "config.toml") as daemon, chromium(width=420) as driver:
        driver.get(page_url(daemon.port, "not-the-secret-at-all"))
        wait_js(driver, "!document.getElementById('login').hidden")
        message = text_of(driver, "#login-message")
        assert message.startswith("The daemon did not accept this secret (authentication failed).")
        assert "livevoice panel" in message
        assert text_of(driver, "#connection") == "wrong secret"
        assert not driver.find_element(By.ID, "panel").is_displayed()
        assert driver.execute_script("return localStorage.getItem('livevoice.secret')") is None
        screenshot(driver, "wrong-secret")

        # the form: paste the right one
        driver.find_element(By.ID, "secret").send_keys(SECRET, Keys.ENTER)
        wait_js(driver, "document.body.dataset.ready === 'true'")
        assert text_of(driver, "#login-message") == ""
        # the browser keeps it: a reload without the fragment logs in again
        driver.get(page_url(daemon.port, None))
        wait_js(driver, "document.body.dataset.ready === 'true'")
        click(driver, "#forget")
        wait_js(driver, "!document.getElementById('login').hidden")
        assert driver.execute_script("return localStorage.getItem('livevoice.secret')") is None


def test_livevoice_panel_open_lands_on_a_logged_in_panel(setup: Path) -> None:
    """The whole user path: `livevoice panel --open` -> the browser -> the panel, logged in."""
    record = setup / "browser-args"
    browser = setup / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {record}\n')
    browser.chmod(0o755)
    with ControlOnly(setup / "config.toml") as daemon, chromium() as driver:
        command = [sys.executable, "-m", "livevoice.cli", "--config", str(setup / "config.toml"), "panel"]
        result = subprocess.run(
            [*command, "--open", "--port", str(daemon.port)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "BROWSER": f"{browser} %s"},
        )
        assert result.returncode == 0, result.stderr
        driver.get(record.read_text())
        wait_until(driver, lambda d: d.current_url == f"http://127.0.0.1:{daemon.port}/", what="forwarded")
        wait_js(driver, "document.body.dataset.ready === 'true'")
        assert listed_voices(driver) == list(VOICES)


class _OtherSite(http.server.BaseHTTPRequestHandler):
    """A page on another origin that tries to open the daemon's websocket."""

    target = ""

    def do_GET(self) -> None:
        body = (
            "<!doctype html><title>waiting</title><script>"
            f"const ws = new WebSocket({self.target!r});"
            "ws.onopen = () => { document.title = 'opened'; };"
            "ws.onclose = (e) => { document.title = 'closed ' + e.code; };"
            "</script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_page_of_another_origin_cannot_open_the_websocket(setup: Path) -> None:
    with ControlOnly(setup / "config.toml") as daemon, chromium() as driver:
        _OtherSite.target = f"ws://127.0.0.1:{daemon.port}/"
        site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OtherSite)
        thread = threading.Thread(target=site.serve_forever, daemon=True)
        thread.start()
        try:
            driver.get(f"http://127.0.0.1:{site.server_address[1]}/")
            wait_until(
                driver, lambda d: d.title.startswith(("closed", "opened")), what="the websocket to end"
            )
            assert driver.title == "closed 1006"
        finally:
            site.shutdown()
            site.server_close()
        log = (setup / "control-only.log").read_text()
        assert f"refused a connection from Origin 'http://127.0.0.1:{site.server_address[1]}'" in log


@contextmanager
def event_server(tmp_path: Path) -> Iterator[ControlServer]:
    """An in-process control server (real sockets) whose events the test publishes."""
    server = ControlServer(control_only(make_library(tmp_path)), control_config(), SERVER_SECRET)
    runner = ControlServerThread(server)
    runner.start()
    try:
        yield server
    finally:
        runner.stop()


def widths(driver: Any, utterance: int) -> list[float]:
    values: list[str] = driver.execute_script(
        "return [...document.querySelectorAll(`.latency-row[data-utterance='${arguments[0]}'] .bar > div`)]"
        ".map(e => e.style.width);",
        utterance,
    )
    return [float(v.rstrip("%")) if v else 0.0 for v in values]


def test_the_panel_shows_what_the_daemon_reports(tmp_path: Path) -> None:
    ms = 1_000_000
    with event_server(tmp_path) as server, chromium(width=800) as driver:
        open_panel(driver, server.port, SERVER_SECRET)

        # transcript: committed words as they come, tentative ones apart, the final replaces them
        server.publish_event(TranscriptPartialEvent(7, "turn left", "at the"))
        wait_js(driver, "document.querySelector('#transcript-list li[data-utterance=\"7\"]')")
        item = "#transcript-list li[data-utterance='7']"
        assert text_of(driver, f"{item} .committed") == "turn left"
        assert text_of(driver, f"{item} .tentative") == " at the"
        server.publish_event(TranscriptPartialEvent(7, "turn left at the next", ""))
        wait_js(
            driver, f"document.querySelector(\"{item} .committed\").textContent === 'turn left at the next'"
        )
        server.publish_event(TranscriptFinalEvent(7, "Turn left at the next corner.", 0.0, 900.0))
        wait_js(driver, f"document.querySelector(\"{item}\").classList.contains('final')")
        assert text_of(driver, item) == "Turn left at the next corner."
        server.publish_event(TranscriptPartialEvent(8, "and then", ""))
        wait_js(driver, "document.querySelectorAll('#transcript-list li').length === 2")
        order = driver.execute_script(
            "return [...document.querySelectorAll('#transcript-list li')].map(e => e.dataset.utterance);"
        )
        assert order == ["8", "7"]  # newest on top

        # latency: a stacked bar per utterance, on one scale
        stamps = {"speechEnd": 1000 * ms, "textReady": 1100 * ms, "ttsStart": 1120 * ms}
        stamps |= {"ttsFirstAudio": 1300 * ms, "firstSampleOut": 1350 * ms}
        server.publish_event(UtteranceLatencyEvent(7, stamps, 180.0, 250.0, 350.0))
        wait_js(driver, "document.querySelector(\".latency-row[data-utterance='7']\")")
        assert widths(driver, 7) == pytest.approx([100 / 3.5, 200 / 3.5, 50 / 3.5], abs=0.01)
        assert text_of(driver, ".latency-row[data-utterance='7'] .total") == "350 ms"
        # typed text has no speech end: its first segment is left out; the longer total rescales
        typed = {
            "textReady": 5000 * ms,
            "ttsStart": 5010 * ms,
            "ttsFirstAudio": 5500 * ms,
            "firstSampleOut": 5700 * ms,
        }
        server.publish_event(UtteranceLatencyEvent(9, typed, 490.0, 700.0, None))
        wait_js(driver, "document.querySelector(\".latency-row[data-utterance='9']\")")
        assert widths(driver, 9) == pytest.approx([0.0, 500 / 7, 200 / 7], abs=0.01)
        assert widths(driver, 7) == pytest.approx([100 / 7, 200 / 7, 50 / 7], abs=0.01)
        assert not driver.find_element(By.ID, "latency-empty").is_displayed()

        # level meters
        server.publish_event(LevelMetersEvent(-12.0, -30.0, -120.0, -120.0))
        wait_js(driver, "document.getElementById('meter-in-db').textContent === '-12 dB'")
        assert text_of(driver, "#meter-out-db") == "silent"
        assert driver.execute_script("return document.getElementById('meter-in-rms').style.width") == "50%"

        # banners: a lost device until it is back; errors and the real-time warning until dismissed
        server.publish_event(DeviceLostEvent("output", "livevoice_out", "the stream stopped"))
        banner = ".banner[data-key='device-lost-output']"
        wait_js(driver, f'document.querySelector("{banner}")')
        assert text_of(driver, banner) == (
            "Lost the output device “livevoice_out”: the stream stopped. livevoice keeps trying to reopen it."
        )
        server.publish_event(ErrorEvent("tts", "synthetic failure"))
        server.publish_event(RealTimeWarningEvent(1.8, "Speech comes out slower than you speak; use a GPU."))
        wait_js(driver, "document.querySelector(\".banner[data-key='real-time']\")")
        assert text_of(driver, ".banner[data-key='real-time'] p") == (
            "This machine cannot speak in real time (speech takes 1.80× as long to make as to say). "
            "Speech comes out slower than you speak; use a GPU."
        )
        assert text_of(driver, ".banner[data-key='error-tts'] p") == "Error in tts: synthetic failure"
        screenshot(driver, "events-800px")
        click(driver, ".banner[data-key='error-tts'] button")
        wait_js(driver, "!document.querySelector(\".banner[data-key='error-tts']\")")
        server.publish_event(DeviceRestoredEvent("output", "livevoice_out"))
        wait_js(driver, f'!document.querySelector("{banner}")')
        assert notice(driver) == "The output device “livevoice_out” works again."
        assert driver.find_element(By.CSS_SELECTOR, ".banner[data-key='real-time']").is_displayed()


def test_the_panel_reconnects_when_the_daemon_restarts(setup: Path) -> None:
    """An OBS dock stays open across daemon restarts: the page logs in again by itself."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = setup / "config.toml"
    config.write_text(config.read_text().replace("port = 0", f"port = {port}"))
    with chromium(width=350) as driver:
        with ControlOnly(config) as daemon:
            assert daemon.port == port
            open_panel(driver, port)
            click(driver, '[data-mode="mute"]')
            wait_js(driver, "document.querySelector('[data-mode=\"mute\"]').ariaPressed === 'true'")
        wait_until(driver, lambda d: text_of(d, "#connection").startswith("disconnected"), what="a retry")
        with ControlOnly(config):
            wait_until(driver, lambda d: text_of(d, "#connection") == "connected", 30, "connected again")
            # the new daemon's state is shown, not the old page's
            wait_js(driver, "document.querySelector('[data-mode=\"convert\"]').ariaPressed === 'true'")
            assert ctl(port, setup / "secret", "GetStatus")["mode"] == "convert"
