"""The virtual mic: pactl parsing and planning (pure), then create/status/remove, audio flow
and sink routing against the real PipeWire test server."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from livevoice.audio import virtual_mic as vm
from livevoice.audio.sink_route import SinkRoute, find_sink_route, route_for_sink
from livevoice.cli import main

NAMES = vm.virtual_mic_names("lvt")

# What pactl 16 prints for PipeWire: a multi-line argument, empty arguments, a quoted one.
PACTL_MODULES = (
    "1\tlibpipewire-module-rt\t{\n"
    "            nice.level    = -11\n"
    "            #rt.prio      = 88\n"
    "        }\t\n"
    "2\tlibpipewire-module-protocol-native\t\t\n"
    "536870912\tmodule-always-sink\t\t\n"
    "536870913\tmodule-null-sink\tsink_name=lvt_out channels=1 channel_map=mono rate=48000 "
    "sink_properties=\"device.description='lvt virtual speaker'\"\t\n"
    "536870914\tmodule-remap-source\tmaster=lvt_out.monitor source_name=lvt_mic channels=1\t\n"
)

T = TypeVar("T")


def test_parse_short_modules() -> None:
    modules = vm.parse_short_modules(PACTL_MODULES)
    assert [(m.index, m.name) for m in modules] == [
        (1, "libpipewire-module-rt"),
        (2, "libpipewire-module-protocol-native"),
        (536870912, "module-always-sink"),
        (536870913, "module-null-sink"),
        (536870914, "module-remap-source"),
    ]
    assert modules[0].argument.startswith("{\n") and modules[0].argument.endswith("}")
    assert modules[1].argument == ""
    assert modules[3].arguments() == {
        "sink_name": "lvt_out",
        "channels": "1",
        "channel_map": "mono",
        "rate": "48000",
        "sink_properties": "device.description='lvt virtual speaker'",
    }
    assert modules[4].arguments()["master"] == "lvt_out.monitor"


_arg_text = st.text(
    st.characters(blacklist_characters="\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), max_size=40
)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**32),
            st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True),
            st.lists(_arg_text, max_size=3).map(lambda lines: "\n".join(lines).strip()),
        ),
        max_size=6,
    )
)
def test_parse_short_modules_round_trips(records: list[tuple[int, str, str]]) -> None:
    # arguments hold no tabs, so a continuation line never looks like '<index>\t<name>\t'
    text = "".join(f"{index}\t{name}\t{argument}\t\n" for index, name, argument in records)
    parsed = vm.parse_short_modules(text)
    assert [(m.index, m.name, m.argument) for m in parsed] == records


def test_parse_short_list() -> None:
    text = (
        "47\tlvtest_in\tPipeWire\tfloat32le 1ch 48000Hz\tSUSPENDED\n"
        "65\tlvt_out.monitor\tPipeWire\tfloat32le 1ch 48000Hz\tIDLE\n"
        "\n"
    )
    assert vm.parse_short_list(text) == {"lvtest_in": 47, "lvt_out.monitor": 65}


# `LC_ALL=C pactl list source-outputs`, cut: a remapped source's capture side, one not
# linked yet, and a client's recording stream.
SOURCE_OUTPUTS = """Source Output #53
\tDriver: PipeWire
\tOwner Module: 536870914
\tClient: n/a
\tSource: 47
\tSample Specification: float32le 1ch 48000Hz
\tProperties:
\t\tnode.name = "input.lvtest_mic"
\t\ttarget.object = "lvtest_in"

Source Output #716
\tDriver: PipeWire
\tOwner Module: 536870924
\tClient: n/a
\tSource: 4294967295

Source Output #800
\tDriver: PipeWire
\tOwner Module: n/a
\tClient: 790
\tSource: 65
"""


def test_parse_source_outputs() -> None:
    assert vm.parse_source_outputs(SOURCE_OUTPUTS) == [
        vm.SourceOutput(53, 536870914, 47),
        vm.SourceOutput(716, 536870924, None),
        vm.SourceOutput(800, None, 65),
    ]
    assert vm.parse_source_outputs("") == []


@pytest.mark.parametrize(
    ("outputs", "link"),
    [
        ([vm.SourceOutput(1, 6, 65)], "monitor"),
        ([vm.SourceOutput(1, 6, 47)], "elsewhere"),  # e.g. the default source after its sink vanished
        ([vm.SourceOutput(1, 6, None)], "unlinked"),
        ([], "unlinked"),
        ([vm.SourceOutput(1, 9, 65)], "unlinked"),  # another module's stream does not count
    ],
)
def test_mic_link(outputs: list[vm.SourceOutput], link: str) -> None:
    sources = {"lvtest_in.monitor": 47, "lvt_out.monitor": 65, "lvt_mic": 70}
    state = vm.read_state(NAMES, [], {"lvt_out": 65}, sources, outputs)
    assert state.mic_link == "unknown"  # no module of ours: cannot judge
    modules = [vm.PactlModule(6, "module-remap-source", "master=lvt_out.monitor source_name=lvt_mic")]
    state = vm.read_state(NAMES, modules, {"lvt_out": 65}, sources, outputs)
    assert state.mic_link == link
    assert state.complete == (link == "monitor")


def test_an_unparsable_argument_has_no_keys() -> None:
    assert vm.PactlModule(1, "module-x", "sink_name='unterminated").arguments() == {}


@pytest.mark.parametrize("name", ["", "a b", "x'y", 'x"y', "-x", "_x", "a=b", "é", "x" * 61])
def test_names_that_would_break_module_arguments_are_refused(name: str) -> None:
    with pytest.raises(vm.AudioServerError, match="not allowed"):
        vm.virtual_mic_names(name)


def test_names_and_descriptions() -> None:
    n = vm.virtual_mic_names("lv.test-1")
    assert (n.sink, n.monitor, n.source) == ("lv.test-1_out", "lv.test-1_out.monitor", "lv.test-1_mic")
    assert vm.virtual_mic_names().source_description == "livevoice virtual mic"


def _state(
    sink_modules: tuple[int, ...] = (),
    source_modules: tuple[int, ...] = (),
    sink: bool = False,
    source: bool = False,
    link: vm.MicLink = "monitor",
) -> vm.VirtualMicState:
    return vm.VirtualMicState(
        NAMES, sink_modules, source_modules, sink, source, link if source_modules else "unknown"
    )


LOAD_SINK = vm.load_sink_args(NAMES)
LOAD_SOURCE = vm.load_source_args(NAMES)


@pytest.mark.parametrize(
    ("state", "plan"),
    [
        (_state(), [LOAD_SINK, LOAD_SOURCE]),
        (_state((5,), (6,), True, True), []),
        (_state((5,), (), True, False), [LOAD_SOURCE]),
        (_state((), (), True, False), [LOAD_SOURCE]),  # sink made elsewhere (PipeWire config)
        (_state((), (6,), False, True), [["unload-module", "6"], LOAD_SINK, LOAD_SOURCE]),  # dangling mic
        (_state((7,), (6,), True, True, "elsewhere"), [["unload-module", "6"], LOAD_SOURCE]),
        (_state((7,), (6,), True, True, "unlinked"), [["unload-module", "6"], LOAD_SOURCE]),  # settled
        (_state((), (), True, True), []),
    ],
)
def test_create_plan(state: vm.VirtualMicState, plan: list[list[str]]) -> None:
    assert vm.create_plan(state) == plan


def test_plans_from_parsed_pactl_output() -> None:
    modules = vm.parse_short_modules(PACTL_MODULES)
    outputs = [vm.SourceOutput(9, 536870914, 66)]
    state = vm.read_state(NAMES, modules, {"lvt_out": 66}, {"lvt_out.monitor": 66, "lvt_mic": 70}, outputs)
    assert (state.sink_modules, state.source_modules, state.complete) == ((536870913,), (536870914,), True)
    assert vm.create_plan(state) == []
    assert vm.remove_plan(state) == [["unload-module", "536870914"], ["unload-module", "536870913"]]
    other = vm.read_state(vm.virtual_mic_names("lv"), modules, {"lvt_out": 66}, {"lvt_mic": 70}, outputs)
    assert other.absent and vm.remove_plan(other) == []


def test_load_arguments() -> None:
    assert LOAD_SINK == [
        "load-module",
        "module-null-sink",
        "sink_name=lvt_out",
        "channels=1",
        "channel_map=mono",
        "rate=48000",
        "sink_properties=\"device.description='lvt virtual speaker'\"",
    ]
    assert "master=lvt_out.monitor" in LOAD_SOURCE and "source_name=lvt_mic" in LOAD_SOURCE


def test_status_text() -> None:
    assert "not created" in vm.format_status(_state())
    ready = vm.format_status(_state((5,), (6,), True, True), Path("cfg.toml"))
    assert 'output_device = "lvt_out"' in ready and "(cfg.toml)" in ready
    assert '"lvt virtual mic"' in ready
    half = vm.format_status(_state((5,), (), True, False))
    assert "incomplete" in half and "missing" in half and "output_device" not in half
    assert "miswired" in vm.format_status(_state((7,), (6,), True, True, "elsewhere"))


def test_route_prefers_pipewire_then_pulse() -> None:
    pipewire = route_for_sink("x_out", ["lvtest_mic", "pulse", "pipewire", "default"])
    assert pipewire is not None and pipewire.portaudio_device == "pipewire"
    assert pipewire.env == (("PIPEWIRE_NODE", "x_out"),)
    assert route_for_sink("x_out", ["pulse", "default"]) == SinkRoute(
        "x_out", "pulse", (("PULSE_SINK", "x_out"),)
    )
    assert route_for_sink("x_out", ["default", "hw:0,0"]) is None


def test_route_sets_the_variables_only_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPEWIRE_NODE", raising=False)
    monkeypatch.setenv("PULSE_SINK", "users_choice")
    with SinkRoute("x_out", "pipewire", (("PIPEWIRE_NODE", "x_out"),)).applied():
        assert os.environ["PIPEWIRE_NODE"] == "x_out"
    assert "PIPEWIRE_NODE" not in os.environ
    with pytest.raises(RuntimeError), SinkRoute("x_out", "pulse", (("PULSE_SINK", "x_out"),)).applied():
        assert os.environ["PULSE_SINK"] == "x_out"
        raise RuntimeError
    assert os.environ["PULSE_SINK"] == "users_choice"


# ---- against the real PipeWire server (scripts/audio-rig.sh) ----------------------------


def _pactl(*args: str) -> str:
    return subprocess.run(["pactl", *args], capture_output=True, text=True, check=True, timeout=30).stdout


@pytest.fixture
def pair_name(audio_rig: Path) -> Iterator[str]:
    """A name no other test uses; whatever the test leaves of its pair is unloaded after it."""
    name = f"lvt{uuid.uuid4().hex[:8]}"
    yield name
    for module in vm.parse_short_modules(_pactl("list", "short", "modules")):
        args = module.arguments()
        if args.get("sink_name") == f"{name}_out" or args.get("source_name") == f"{name}_mic":
            subprocess.run(["pactl", "unload-module", str(module.index)], check=False, timeout=30)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _our_modules(name: str) -> list[str]:
    return [
        m.name
        for m in vm.parse_short_modules(_pactl("list", "short", "modules"))
        if f"{name}_out" in m.argument or f"{name}_mic" in m.argument
    ]


@pytest.mark.rig
def test_create_status_remove_through_the_cli(pair_name: str, capsys: pytest.CaptureFixture[str]) -> None:
    name = pair_name
    code, out, _ = _cli(capsys, "virtual-mic", "status", "--name", name)
    assert code == 1 and "not created" in out

    code, out, _ = _cli(capsys, "virtual-mic", "create", "--name", name)
    assert code == 0 and "created" in out and f'output_device = "{name}_out"' in out
    code, out, _ = _cli(capsys, "virtual-mic", "create", "--name", name)
    assert code == 0 and "already exists" in out
    assert sorted(_our_modules(name)) == ["module-null-sink", "module-remap-source"]  # one pair

    sinks = _pactl("list", "sinks")
    sources = _pactl("list", "sources")
    assert f"Description: {name} virtual speaker" in sinks
    assert f"Description: {name} virtual mic" in sources
    assert f"{name}_out\tPipeWire\tfloat32le 1ch 48000Hz" in _pactl("list", "short", "sinks")

    code, out, _ = _cli(capsys, "virtual-mic", "status", "--name", name)
    assert code == 0 and "ready" in out and f'output_device = "{name}_out"' in out
    code, out, _ = _cli(capsys, "virtual-mic", "status", "--name", name, "--json")
    status = json.loads(out)
    assert code == 0 and status["ready"] and status["output_device"] == f"{name}_out"

    code, out, _ = _cli(capsys, "virtual-mic", "remove", "--name", name)
    assert code == 0 and "removed" in out
    assert _our_modules(name) == []
    assert f"{name}_out" not in _pactl("list", "short", "sinks")
    code, out, _ = _cli(capsys, "virtual-mic", "remove", "--name", name)
    assert code == 0 and "nothing to remove" in out
    code, out, _ = _cli(capsys, "virtual-mic", "status", "--name", name)
    assert code == 1


@pytest.mark.rig
def test_the_rigs_own_devices_are_left_alone(pair_name: str) -> None:
    before = _pactl("list", "short", "modules")
    vm.create_virtual_mic(pair_name)
    vm.remove_virtual_mic(pair_name)
    assert _pactl("list", "short", "modules") == before


@contextmanager
def _recording(name: str, raw: Path) -> Iterator[None]:
    """parec records NAME_mic into ``raw`` (float32, 48 kHz, mono) while the block runs.

    The block starts once parec is connected and is followed by 0.3 s more of recording, so
    the tail of what was played reaches the file. parec gets a small latency, or it buffers
    ~2 s and writes nothing before it is stopped.
    """
    command = ["parec", "-d", f"{name}_mic", "--format=float32le", "--channels=1"]
    command += [f"--rate={vm.SAMPLE_RATE}", "--raw", "--latency-msec=20"]
    with raw.open("wb") as sink:
        rec = subprocess.Popen(command, stdout=sink)
        try:
            _wait_for_recorder(name)
            yield
            tail = raw.stat().st_size + int(0.3 * vm.SAMPLE_RATE) * 4
            _until(lambda: raw.stat().st_size, lambda size: size >= tail, "0.3 s more recorded")
        finally:
            rec.terminate()
            rec.wait(timeout=10)


def _record_tone(name: str, tone_hz: float, tmp_path: Path) -> np.ndarray:
    """Play 0.6 s of a tone into NAME_out with paplay while NAME_mic is recorded; the recording."""
    import soundfile

    rate = vm.SAMPLE_RATE
    t = np.arange(int(0.6 * rate)) / rate
    wav = tmp_path / "tone.wav"
    soundfile.write(wav, (0.5 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32), rate, subtype="FLOAT")
    raw = tmp_path / "rec.raw"
    with _recording(name, raw):
        subprocess.run(["paplay", "-d", f"{name}_out", str(wav)], check=True, timeout=30)
    return np.fromfile(raw, dtype=np.float32)


def _until(read: Callable[[], T], done: Callable[[T], bool], what: str, timeout_s: float = 10.0) -> T:
    """``read()`` again until ``done`` says yes (fails after ``timeout_s``); the last value."""
    deadline = time.monotonic() + timeout_s
    while not done(value := read()):
        assert time.monotonic() < deadline, f"no {what} within {timeout_s} s"
        time.sleep(0.02)
    return value


def _wait_for_recorder(name: str) -> None:
    """Until parec's stream is connected to NAME_mic (polls pactl, at most 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sources = {
            line.split("\t")[0]: line.split("\t")[1]
            for line in _pactl("list", "short", "sources").splitlines()
            if "\t" in line
        }
        for line in _pactl("list", "short", "source-outputs").splitlines():
            fields = line.split("\t")
            if len(fields) > 1 and sources.get(fields[1]) == f"{name}_mic":
                return
        time.sleep(0.05)
    pytest.fail(f"parec did not connect to {name}_mic")


def _tone_level(recording: np.ndarray, tone_hz: float) -> tuple[float, float]:
    """(peak frequency in Hz, RMS) of the loudest 0.4 s of a recording."""
    rate = vm.SAMPLE_RATE
    size = int(0.4 * rate)
    assert recording.size >= size, f"recorded only {recording.size} samples"
    energy = np.convolve(recording.astype(np.float64) ** 2, np.ones(size), mode="valid")
    start = int(np.argmax(energy))
    window = recording[start : start + size]
    spectrum = np.abs(np.fft.rfft(window * np.hanning(size)))
    return float(np.argmax(spectrum) * rate / size), float(np.sqrt(np.mean(window**2)))


@pytest.mark.rig
def test_audio_played_into_the_sink_comes_out_of_the_virtual_mic(pair_name: str, tmp_path: Path) -> None:
    vm.create_virtual_mic(pair_name)
    peak_hz, rms = _tone_level(_record_tone(pair_name, 1000.0, tmp_path), 1000.0)
    assert peak_hz == pytest.approx(1000.0, abs=5)
    assert rms == pytest.approx(0.5 / np.sqrt(2), rel=0.1)  # mono sink, mono mic: unity gain


@pytest.mark.rig
def test_create_repairs_a_mic_left_without_its_sink(
    pair_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, _ = vm.create_virtual_mic(pair_name)
    _pactl("unload-module", str(state.sink_modules[0]))  # the sink vanishes, the mic stays
    dangling = vm.virtual_mic_status(pair_name)
    assert dangling.source_exists and not dangling.sink_exists and not dangling.complete
    code, out, _ = _cli(capsys, "virtual-mic", "create", "--name", pair_name)
    assert code == 0 and "repaired" in out
    assert sorted(_our_modules(pair_name)) == ["module-null-sink", "module-remap-source"]
    peak_hz, rms = _tone_level(_record_tone(pair_name, 700.0, tmp_path), 700.0)
    assert peak_hz == pytest.approx(700.0, abs=5) and rms > 0.3


@pytest.mark.rig
def test_create_rewires_a_mic_that_records_from_elsewhere(
    pair_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What PipeWire may leave when a sink vanishes and comes back: the mic on another source."""
    state, _ = vm.create_virtual_mic(pair_name)
    outputs = vm.parse_source_outputs(_pactl("list", "source-outputs"))
    (mic_stream,) = [o.index for o in outputs if o.owner_module in state.source_modules]
    _pactl("move-source-output", str(mic_stream), "lvtest_in.monitor")
    moved = _until(lambda: vm.virtual_mic_status(pair_name), lambda s: s.miswired, "the mic moved")
    assert moved.miswired and not moved.complete
    code, out, _ = _cli(capsys, "virtual-mic", "status", "--name", pair_name)
    assert code == 1 and "miswired" in out

    repaired, commands = vm.create_virtual_mic(pair_name)
    assert repaired.complete and commands[0] == ["unload-module", str(state.source_modules[0])]
    peak_hz, rms = _tone_level(_record_tone(pair_name, 700.0, tmp_path), 700.0)
    assert peak_hz == pytest.approx(700.0, abs=5) and rms > 0.3


@pytest.mark.rig
def test_no_audio_server_is_one_clear_line(
    audio_rig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "runtime"
    empty.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(empty))
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    for action in ("create", "status", "remove"):
        code, out, err = _cli(capsys, "virtual-mic", action)
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and "no PipeWire or PulseAudio server is running" in err


def test_missing_pactl_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = _cli(capsys, "virtual-mic", "status")
    assert code == 2 and err.count("\n") == 1 and "pactl is not installed" in err


def _sink_of_streams() -> list[str]:
    """The sink name each playback stream (sink input) is connected to."""
    sinks = {
        line.split("\t")[0]: line.split("\t")[1]
        for line in _pactl("list", "short", "sinks").splitlines()
        if "\t" in line
    }
    return [
        sinks.get(line.split("\t")[1], "?")
        for line in _pactl("list", "short", "sink-inputs").splitlines()
        if "\t" in line
    ]


@pytest.mark.rig
def test_a_routed_portaudio_stream_plays_into_the_named_sink(pair_name: str, tmp_path: Path) -> None:
    """What lets ``output_device = "NAME_out"`` work without any ALSA configuration."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()  # see the rig's devices even if another test initialised PortAudio first
    outputs = [str(d["name"]) for d in sd.query_devices() if d["max_output_channels"] > 0]
    assert find_sink_route(f"{pair_name}_out", outputs) is None  # not created yet: no silent fallback
    vm.create_virtual_mic(pair_name)
    route = find_sink_route(f"{pair_name}_out", outputs)
    assert route == SinkRoute(f"{pair_name}_out", "pipewire", (("PIPEWIRE_NODE", f"{pair_name}_out"),))

    rate = vm.SAMPLE_RATE
    tone = (0.5 * np.sin(2 * np.pi * 440.0 * np.arange(rate // 10) / rate)).astype(np.float32)
    with route.applied():
        routed = sd.OutputStream(device=route.portaudio_device, samplerate=rate, channels=1, dtype="float32")
    other = sd.OutputStream(device=route.portaudio_device, samplerate=rate, channels=1, dtype="float32")
    raw = tmp_path / "rec.raw"
    with routed, other, _recording(pair_name, raw):
        for _ in range(6):
            routed.write(tone)
            other.write(np.zeros_like(tone))
        streams = _sink_of_streams()
    assert streams.count(f"{pair_name}_out") == 1  # the routed stream, not the other one
    assert len(streams) >= 2
    peak_hz, rms = _tone_level(np.fromfile(raw, dtype=np.float32), 440.0)
    assert peak_hz == pytest.approx(440.0, abs=5) and rms > 0.3
