"""The live controls: the one owner of mode, push-to-talk, voice and morph, text settings.

Real voice files, a controllable clock for morphs, a list of the change records the
controls announce; no audio, no models.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_control_support import make_library

from livevoice.config import Config, DaemonConfig, TextConfig, VoicesConfig
from livevoice.controls import IncompatibleVoiceError, LiveControls, VoiceNotFoundError
from livevoice.errors import ConfigError
from livevoice.frames import ControlChange, ModeChanged, MorphProgress, VoiceChanged
from livevoice.text import Say, TextStage, WordFilterError, words_from_text
from livevoice.voices import algebra
from livevoice.voices.library import VoiceLibrary


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def library(tmp_path: Path) -> VoiceLibrary:
    return make_library(tmp_path / "voices")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def changes() -> list[ControlChange]:
    return []


@pytest.fixture
def controls(library: VoiceLibrary, clock: Clock, changes: list[ControlChange]) -> LiveControls:
    live = LiveControls(library, library.get("alice"), clock=clock)
    live.listen(changes.append)
    return live


def embedding(controls: LiveControls) -> np.ndarray:
    value = controls.voice_for_phrase()
    assert value is not None
    return value


def test_from_config_starts_with_the_default_voice_text_settings_and_mode(
    library: VoiceLibrary, tmp_path: Path
) -> None:
    words = tmp_path / "words.txt"
    words.write_text("darn\n")
    config = Config(
        voices=VoicesConfig(library=str(library.folder), default_voice="carol"),
        text=TextConfig(word_filter_file=str(words), filter_action="drop"),
        daemon=DaemonConfig(mode="mute"),
    )
    controls = LiveControls.from_config(config)
    assert (controls.voice_name, controls.mode) == ("carol", "mute")
    np.testing.assert_array_equal(embedding(controls), library.get("carol").embedding)
    assert TextStage(controls.text_settings).process(words_from_text("Darn it")) == (Say("It"),)
    first = LiveControls.from_config(Config(voices=VoicesConfig(library=str(library.folder))))
    assert first.voice_name == "alice"  # the first voice by name
    empty = LiveControls.from_config(Config(voices=VoicesConfig(library=str(tmp_path / "none"))))
    assert (empty.voice_name, empty.voice_for_phrase(), empty.current_voice()) == ("", None, None)


def test_a_voice_the_loaded_model_cannot_speak_is_refused(library: VoiceLibrary) -> None:
    config = Config(voices=VoicesConfig(library=str(library.folder), default_voice="big"))
    with pytest.raises(
        IncompatibleVoiceError, match="'big' has 2048 values but the loaded TTS model takes 1024"
    ):
        LiveControls.from_config(config, model_dim=1024)
    controls = LiveControls(library, library.get("alice"), model_dim=1024)
    for change in (
        lambda: controls.set_voice("big"),
        lambda: controls.morph_voice("big", 100),
        lambda: controls.mix_voices({"alice": 1, "big": 1}),
    ):
        with pytest.raises(IncompatibleVoiceError, match="'big' has 2048 values"):
            change()
    assert controls.voice_name == "alice"


def test_set_voice_announces_the_change_with_when_it_applies(
    controls: LiveControls, library: VoiceLibrary, changes: list[ControlChange]
) -> None:
    controls.set_voice("bob", "now")
    controls.set_voice("carol")
    assert changes == [
        VoiceChanged("bob", "alice", 1024, False, None, "now"),
        VoiceChanged("carol", "bob", 1024, False, None, "phrase"),
    ]
    np.testing.assert_array_equal(embedding(controls), library.get("carol").embedding)
    with pytest.raises(VoiceNotFoundError, match="unknown voice 'zed'; known: alice, big, bob, carol"):
        controls.set_voice("zed")
    assert len(changes) == 2


def test_a_mix_is_a_transient_voice_of_the_algebra(
    controls: LiveControls, library: VoiceLibrary, changes: list[ControlChange]
) -> None:
    name = controls.mix_voices({"alice": 3, "bob": 1, "carol": 0})
    assert name == "mix:0.75*alice+0.25*bob"
    expected = algebra.mix([(library.get("alice").embedding, 0.75), (library.get("bob").embedding, 0.25)])
    np.testing.assert_allclose(embedding(controls), expected, rtol=1e-6)
    current = controls.current_voice()
    assert current is not None and (current.name, current.transient) == (name, True)
    assert changes == [VoiceChanged(name, "alice", 1024, True, None, "phrase")]
    with pytest.raises(IncompatibleVoiceError, match="'big' \\(2048\\)"):
        controls.mix_voices({"alice": 1, "big": 1})
    assert controls.voice_name == name


def test_a_morph_moves_with_the_clock_and_ends_at_its_target(
    controls: LiveControls, library: VoiceLibrary, clock: Clock, changes: list[ControlChange]
) -> None:
    alice, carol = library.get("alice").embedding, library.get("carol").embedding
    controls.morph_voice("carol", 2000, "linear")
    assert changes == [
        VoiceChanged("carol", "alice", 1024, False, MorphProgress("alice", "carol", 2000, "linear", 0.0))
    ]
    np.testing.assert_array_equal(embedding(controls), alice)
    clock.now_s += 0.5
    np.testing.assert_allclose(embedding(controls), algebra.slerp(alice, carol, 0.25), rtol=1e-5)
    current = controls.current_voice()
    assert current is not None and current.morph == MorphProgress("alice", "carol", 2000, "linear", 0.25)
    clock.now_s += 1.5
    np.testing.assert_array_equal(embedding(controls), carol)
    current = controls.current_voice()
    assert current is not None and current.morph is None


def test_a_morph_starts_where_the_last_one_has_got_to(
    controls: LiveControls, library: VoiceLibrary, clock: Clock
) -> None:
    alice, bob, carol = (library.get(n).embedding for n in ("alice", "bob", "carol"))
    controls.morph_voice("carol", 1000)
    clock.now_s += 0.5
    halfway = algebra.slerp(alice, carol, 0.5)
    controls.morph_voice("bob", 1000)
    np.testing.assert_allclose(embedding(controls), halfway, rtol=1e-5)
    clock.now_s += 0.5
    np.testing.assert_allclose(embedding(controls), algebra.slerp(halfway, bob, 0.5), rtol=1e-5)


def test_no_voice_to_morph_from(library: VoiceLibrary) -> None:
    with pytest.raises(VoiceNotFoundError, match="no current voice to morph from"):
        LiveControls(library).morph_voice("bob", 100)


def test_mode_and_push_to_talk_decide_where_the_microphone_goes(
    controls: LiveControls, changes: list[ControlChange]
) -> None:
    gates = []
    for mode, enabled, pressed in [
        ("convert", False, False),
        ("convert", True, False),
        ("convert", True, True),
        ("passthrough", False, False),
        ("passthrough", True, False),
        ("passthrough", True, True),
        ("mute", False, True),
    ]:
        controls.set_mode(mode)  # type: ignore[arg-type]
        controls.set_push_to_talk(pressed, enabled)
        gates.append((controls.listening(), controls.passing_through()))
    assert gates == [
        (True, False),
        (False, False),
        (True, False),
        (False, True),
        (False, False),
        (False, True),
        (False, False),
    ]
    assert changes == [ModeChanged("passthrough", "convert"), ModeChanged("mute", "passthrough")]
    controls.set_push_to_talk(False)  # enabled stays as it was
    assert controls.push_to_talk == (False, False)


def test_text_options_are_checked_before_anything_changes(controls: LiveControls, tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("darn\n")
    before = controls.text_settings
    with pytest.raises(ConfigError, match=r"text\.filter_action = 'loud' is not allowed"):
        controls.set_text_options({"filter_action": "loud"})
    with pytest.raises(WordFilterError, match="does not exist"):
        controls.set_text_options({"word_filter_file": str(tmp_path / "gone.txt")})
    assert controls.text_settings is before
    new = controls.set_text_options({"word_filter_file": str(words), "filter_action": "replace"})
    assert new == TextConfig(word_filter_file=str(words), filter_action="replace")
    assert controls.text_settings.config == new
    assert TextStage(controls.text_settings).process(words_from_text("Darn it")) == (Say("Bleep it"),)
    controls.set_text_options({"clean_disfluencies": True})  # the other keys stay
    assert controls.text_settings.config == TextConfig(
        word_filter_file=str(words), filter_action="replace", clean_disfluencies=True
    )


def test_a_listener_that_changes_more_is_announced_in_order(controls: LiveControls) -> None:
    """The loop falls back to passthrough from inside a change: the records keep their order."""
    seen: list[Any] = []

    def listener(change: ControlChange) -> None:
        seen.append(change)
        if isinstance(change, VoiceChanged) and change.voice == "bob":
            controls.set_mode("passthrough")

    controls.listen(listener)
    controls.set_voice("bob")
    assert [type(c).__name__ for c in seen] == ["VoiceChanged", "ModeChanged"]


def test_concurrent_writers_announce_every_change_once(library: VoiceLibrary) -> None:
    controls = LiveControls(library, library.get("alice"))
    seen: list[ControlChange] = []
    controls.listen(seen.append)
    names = ["bob", "carol", "alice"] * 20

    def writer(offset: int) -> None:
        for name in names[offset::4]:
            controls.set_voice(name)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    voices = [c.voice for c in seen if isinstance(c, VoiceChanged)]
    assert sorted(voices) == sorted(names)
    # each record's "previous" is the voice of the record before it: one change at a time
    previous = ["alice", *voices[:-1]]
    assert [c.previous for c in seen if isinstance(c, VoiceChanged)] == previous
    assert controls.voice_name == voices[-1]
