"""A virtual microphone on PipeWire or PulseAudio, made with two ``pactl`` modules.

The pair for a name NAME (default "livevoice"), mono 48 kHz:

- ``NAME_out``: a null sink, the *virtual speaker* livevoice plays the converted voice into;
- ``NAME_mic``: a remapped source of ``NAME_out.monitor``, the *virtual microphone* that
  Discord, OBS or a game select as their input.

Both appear with descriptions people recognise ("livevoice virtual speaker", "livevoice
virtual mic"). PipeWire (through pipewire-pulse) and PulseAudio understand the same
modules. The modules live as long as the audio server: a login or a server restart needs
``livevoice virtual-mic create`` again (the systemd unit runs it before the daemon).

Pure core: parsing ``pactl list short ...`` output, reading the pair's state from it and
planning the ``pactl`` commands that create or remove it. Thin shell: :class:`Pactl` runs
them. The text format is parsed rather than ``pactl -f json``: the JSON form needs pactl
>= 16 and omits the module index that ``unload-module`` needs.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from livevoice.errors import DeviceError

DEFAULT_NAME = "livevoice"
SAMPLE_RATE = 48000
"""Rate of the virtual pair (Hz): the daemon's device rate, so PipeWire need not resample."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,59}")
_MODULE_START = re.compile(r"^(\d+)\t(?=[^\t\n]+\t)", re.MULTILINE)
"""A module record starts a line: index, tab, a non-empty name, tab."""


class AudioServerError(DeviceError):
    """pactl is missing, no audio server answers, or the server refused a module."""


@dataclass(frozen=True, slots=True)
class VirtualMicNames:
    """The device names and descriptions of one virtual mic pair."""

    name: str

    @property
    def sink(self) -> str:
        """The null sink livevoice plays into."""
        return f"{self.name}_out"

    @property
    def monitor(self) -> str:
        """The sink's monitor source, which the virtual mic remaps."""
        return f"{self.sink}.monitor"

    @property
    def source(self) -> str:
        """The virtual microphone other programs record from."""
        return f"{self.name}_mic"

    @property
    def sink_description(self) -> str:
        return f"{self.name} virtual speaker"

    @property
    def source_description(self) -> str:
        return f"{self.name} virtual mic"


def virtual_mic_names(name: str = DEFAULT_NAME) -> VirtualMicNames:
    """Validate ``name`` (letters, digits, ``_ . -``; up to 60 characters) and derive the pair's names."""
    if not _NAME.fullmatch(name):
        raise AudioServerError(
            f"virtual mic name {name!r} is not allowed: use 1-60 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return VirtualMicNames(name)


@dataclass(frozen=True, slots=True)
class PactlModule:
    """One loaded module, as ``pactl list short modules`` shows it."""

    index: int
    """Module index, what ``pactl unload-module`` takes."""
    name: str
    """Module name, e.g. ``module-null-sink``."""
    argument: str
    """The module's argument string (``key=value`` pairs, values possibly quoted)."""

    def arguments(self) -> dict[str, str]:
        """The argument as a dict; quotes removed; {} when it is not ``key=value`` pairs."""
        try:
            words = shlex.split(self.argument)
        except ValueError:
            return {}
        pairs = (word.partition("=") for word in words)
        return {key: value for key, sep, value in pairs if sep}


def parse_short_modules(text: str) -> list[PactlModule]:
    """Parse ``pactl list short modules``: ``INDEX<TAB>NAME<TAB>ARGUMENT<TAB>[USERS]`` per module.

    An argument may span several lines (PipeWire's own modules show their config), so a
    record starts only at a line that begins with a number, a tab, a name and a tab (an
    argument holds no tabs).
    """
    starts = list(_MODULE_START.finditer(text))
    modules = []
    ends = [following.start() for following in starts[1:]] + [len(text)]
    for match, end in zip(starts, ends, strict=False):  # no starts: one unused end
        name, _, rest = text[match.end() : end].rstrip("\n").partition("\t")
        argument = rest.rsplit("\t", 1)[0] if "\t" in rest else rest
        modules.append(PactlModule(int(match.group(1)), name.strip(), argument.strip()))
    return modules


def parse_short_list(text: str) -> dict[str, int]:
    """Name -> index from ``pactl list short sinks`` or ``... sources`` (``INDEX<TAB>NAME<TAB>...``)."""
    found = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and fields[0].strip().isdigit():
            found[fields[1]] = int(fields[0])
    return found


@dataclass(frozen=True, slots=True)
class SourceOutput:
    """One recording stream, from ``pactl list source-outputs``."""

    index: int
    owner_module: int | None
    """The module that made the stream (a remapped source's capture side); None for a client."""
    source: int | None
    """Index of the source it records from; None while the session manager has not linked it."""


_INVALID_INDEX = 2**32 - 1  # PA_INVALID_INDEX: what pactl prints for "not connected"


def parse_source_outputs(text: str) -> list[SourceOutput]:
    """Parse the long ``pactl list source-outputs`` listing (run with LC_ALL=C)."""
    outputs = []
    for block in re.split(r"^Source Output #", text, flags=re.MULTILINE)[1:]:
        index = re.match(r"\d+", block)
        owner = re.search(r"^\s*Owner Module: (\d+)\s*$", block, re.MULTILINE)
        source = re.search(r"^\s*Source: (\d+)\s*$", block, re.MULTILINE)
        if index is None:
            continue
        source_index = int(source.group(1)) if source else None
        outputs.append(
            SourceOutput(
                index=int(index.group()),
                owner_module=int(owner.group(1)) if owner else None,
                source=None if source_index == _INVALID_INDEX else source_index,
            )
        )
    return outputs


MicLink = Literal["monitor", "elsewhere", "unlinked", "unknown"]


@dataclass(frozen=True, slots=True)
class VirtualMicState:
    """What exists of one pair on the audio server."""

    names: VirtualMicNames
    sink_modules: tuple[int, ...]
    """Indexes of the ``module-null-sink`` modules that make ``names.sink``."""
    source_modules: tuple[int, ...]
    """Indexes of the ``module-remap-source`` modules that make ``names.source``."""
    sink_exists: bool
    """A sink called ``names.sink`` exists (made by a module above or by other means)."""
    source_exists: bool
    """A source called ``names.source`` exists."""
    mic_link: MicLink
    """What the virtual mic records from: the sink's monitor (as it should), another source
    (PipeWire does not reconnect a remapped source whose sink vanished and came back), nothing
    yet (the session manager links it a moment after the module loads), or unknown (the mic
    was not made by a module here)."""

    @property
    def miswired(self) -> bool:
        """The virtual mic records from something other than its sink."""
        return self.mic_link == "elsewhere"

    @property
    def complete(self) -> bool:
        """Both devices exist and are wired together: ready to use."""
        return self.sink_exists and self.source_exists and self.mic_link in ("monitor", "unknown")

    @property
    def absent(self) -> bool:
        """Nothing of the pair exists."""
        return not (self.sink_exists or self.source_exists or self.sink_modules or self.source_modules)


def read_state(
    names: VirtualMicNames,
    modules: list[PactlModule],
    sinks: dict[str, int],
    sources: dict[str, int],
    source_outputs: list[SourceOutput],
) -> VirtualMicState:
    """The pair's state from parsed ``pactl list short modules|sinks|sources`` and ``list source-outputs``."""
    sink_modules = tuple(
        m.index
        for m in modules
        if m.name == "module-null-sink" and m.arguments().get("sink_name") == names.sink
    )
    source_modules = tuple(
        m.index
        for m in modules
        if m.name == "module-remap-source" and m.arguments().get("source_name") == names.source
    )
    links = {o.source for o in source_outputs if o.owner_module in source_modules}
    link: MicLink
    if not source_modules:
        link = "unknown"
    elif names.monitor in sources and sources[names.monitor] in links:
        link = "monitor"
    elif links - {None}:
        link = "elsewhere"
    else:
        link = "unlinked"
    return VirtualMicState(
        names=names,
        sink_modules=sink_modules,
        source_modules=source_modules,
        sink_exists=names.sink in sinks,
        source_exists=names.source in sources,
        mic_link=link,
    )


def load_sink_args(names: VirtualMicNames) -> list[str]:
    """``pactl`` arguments that load the mono 48 kHz null sink (the virtual speaker)."""
    return [
        "load-module",
        "module-null-sink",
        f"sink_name={names.sink}",
        "channels=1",
        "channel_map=mono",
        f"rate={SAMPLE_RATE}",
        f"sink_properties=\"device.description='{names.sink_description}'\"",
    ]


def load_source_args(names: VirtualMicNames) -> list[str]:
    """``pactl`` arguments that load the virtual mic: a mono remap of the sink's monitor."""
    return [
        "load-module",
        "module-remap-source",
        f"master={names.monitor}",
        f"source_name={names.source}",
        "channels=1",
        "channel_map=mono",
        f"source_properties=\"device.description='{names.source_description}'\"",
    ]


def create_plan(state: VirtualMicState) -> list[list[str]]:
    """The ``pactl`` commands that turn ``state`` into a complete pair; [] when it is one already.

    A virtual mic left without its sink, or not recording from it, is reloaded: PipeWire
    does not reconnect a remapped source to a sink that comes back. Read ``state`` once the
    links have settled (:meth:`Pactl.settled_state`): a mic just loaded is briefly unlinked.
    """
    commands: list[list[str]] = []
    reload_source = bool(state.source_modules) and (
        not state.sink_exists or state.mic_link in ("elsewhere", "unlinked")
    )
    if reload_source:
        commands += [["unload-module", str(index)] for index in state.source_modules]
    if not state.sink_exists:
        commands.append(load_sink_args(state.names))
    if reload_source or not state.source_exists:
        commands.append(load_source_args(state.names))
    return commands


def remove_plan(state: VirtualMicState) -> list[list[str]]:
    """The ``pactl`` commands that unload every module of the pair, virtual mic first."""
    return [["unload-module", str(index)] for index in (*state.source_modules, *state.sink_modules)]


def config_hint(names: VirtualMicNames, config_path: Path | None = None) -> str:
    """The config lines that make livevoice play into the pair's sink."""
    where = f" ({config_path})" if config_path else ""
    return f'in the livevoice config{where}:\n  [audio]\n  output_device = "{names.sink}"'


def format_status(state: VirtualMicState, config_path: Path | None = None) -> str:
    """What ``livevoice virtual-mic status`` prints."""
    n = state.names
    fix = "livevoice virtual-mic create" + ("" if n.name == DEFAULT_NAME else f" --name {n.name}")
    if state.absent:
        return f"virtual mic {n.name!r}: not created; run `{fix}`"
    if state.complete:
        head = f"virtual mic {n.name!r}: ready"
    elif state.miswired:
        head = f"virtual mic {n.name!r}: miswired (it records from another source); run `{fix}`"
    else:
        head = f"virtual mic {n.name!r}: incomplete; run `{fix}`"
    lines = [
        head,
        _device_line(
            "virtual speaker", n.sink, state.sink_exists, state.sink_modules, "livevoice plays here"
        ),
        _device_line(
            "virtual mic",
            n.source,
            state.source_exists,
            state.source_modules,
            f'select "{n.source_description}" in Discord, OBS or a game',
        ),
    ]
    if state.complete:
        lines.append("To make livevoice play into it, set " + config_hint(n, config_path))
    return "\n".join(lines)


def _device_line(role: str, device: str, exists: bool, modules: tuple[int, ...], use: str) -> str:
    if not exists:
        return f"  {role:<16} {device:<24} missing"
    origin = "module " + ", ".join(map(str, modules)) if modules else "not made by livevoice"
    return f"  {role:<16} {device:<24} {use} ({origin})"


class Pactl:
    """Runs ``pactl`` (PulseAudio's client; PipeWire ships a compatible server).

    Failures become :class:`AudioServerError` with one line: pactl missing, no server,
    or the server's own message.
    """

    def __init__(self, executable: str = "pactl", *, timeout_s: float = 10.0) -> None:
        self.executable = executable
        self.timeout_s = timeout_s
        """How long one pactl call may take (s) before it counts as a hung server."""

    def run(self, *args: str) -> str:
        """Run ``pactl ARGS`` and return its standard output."""
        env = {**os.environ, "LC_ALL": "C"}  # pactl's messages, parsed below, are translated
        try:
            done = subprocess.run(
                [self.executable, *args],
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                env=env,
                check=False,
            )
        except FileNotFoundError:
            raise AudioServerError(
                f"{self.executable} is not installed: install pulseaudio-utils (Debian, Ubuntu, Fedora) "
                "or libpulse (Arch) to manage virtual devices"
            ) from None
        except subprocess.TimeoutExpired:
            raise AudioServerError(
                f"the audio server did not answer `pactl {args[0]}` within {self.timeout_s:g} s"
            ) from None
        if done.returncode != 0:
            lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
            message = lines[0] if lines else f"exit code {done.returncode}"
            if "Connection failure" in message or "Connection refused" in message:
                raise AudioServerError(
                    "no PipeWire or PulseAudio server is running for this user "
                    f"(pactl: {message}); start pipewire-pulse or pulseaudio"
                )
            raise AudioServerError(f"pactl {' '.join(args[:2])} failed: {message}")
        return done.stdout

    def state(self, names: VirtualMicNames) -> VirtualMicState:
        """Read what exists of the pair from the server."""
        modules = parse_short_modules(self.run("list", "short", "modules"))
        sinks = parse_short_list(self.run("list", "short", "sinks"))
        sources = parse_short_list(self.run("list", "short", "sources"))
        outputs = parse_source_outputs(self.run("list", "source-outputs"))
        return read_state(names, modules, sinks, sources, outputs)

    def settled_state(self, names: VirtualMicNames, timeout_s: float = 5.0) -> VirtualMicState:
        """:meth:`state`, once the session manager has linked a just-loaded virtual mic.

        Polls every 20 ms for at most ``timeout_s``; returns the last state either way. No
        wait when the sink is missing: there is nothing to link to.
        """
        deadline = time.monotonic() + timeout_s
        state = self.state(names)
        while state.mic_link == "unlinked" and state.sink_exists and time.monotonic() < deadline:
            time.sleep(0.02)
            state = self.state(names)
        return state


def virtual_mic_status(name: str = DEFAULT_NAME, pactl: Pactl | None = None) -> VirtualMicState:
    """What exists of the pair called ``name``."""
    return (pactl or Pactl()).settled_state(virtual_mic_names(name))


def create_virtual_mic(
    name: str = DEFAULT_NAME, pactl: Pactl | None = None
) -> tuple[VirtualMicState, list[list[str]]]:
    """Make or repair the pair (idempotent); returns the new state and the pactl commands run
    ([] when it was ready already: nothing is touched).

    Raises :class:`AudioServerError` when the server refuses or the devices do not appear.
    """
    pactl = pactl or Pactl()
    names = virtual_mic_names(name)
    plan = create_plan(pactl.settled_state(names))
    for args in plan:
        pactl.run(*args)
    state = pactl.settled_state(names)
    if not (state.sink_exists and state.source_exists):
        raise AudioServerError(
            f"the audio server accepted the modules but {names.sink!r}/{names.source!r} did not appear"
        )
    if not state.complete:
        raise AudioServerError(
            f"{names.source!r} does not record from {names.monitor!r} ({state.mic_link}); "
            "is a session manager (WirePlumber) running?"
        )
    return state, plan


def remove_virtual_mic(name: str = DEFAULT_NAME, pactl: Pactl | None = None) -> tuple[VirtualMicState, bool]:
    """Unload the pair's modules (idempotent: nothing to do is fine); returns (new state, changed).

    Raises :class:`AudioServerError` when a device of the pair remains because it was not
    made by a pactl module (e.g. it is configured in PipeWire's own config files).
    """
    pactl = pactl or Pactl()
    names = virtual_mic_names(name)
    plan = remove_plan(pactl.state(names))
    for args in plan:
        pactl.run(*args)
    state = pactl.state(names)
    left = [
        device
        for device, exists in ((names.sink, state.sink_exists), (names.source, state.source_exists))
        if exists
    ]
    if left:
        raise AudioServerError(
            f"{' and '.join(left)} still exist{'s' if len(left) == 1 else ''}: not made by a pactl "
            "module; remove it where it is configured (PipeWire or PulseAudio config files)"
        )
    return state, bool(plan)
