"""Typed configuration, loaded from TOML and validated once.

The defaults live here and only here (``configs/default.toml`` documents them and a
test checks that it matches). Each TOML table maps to one frozen dataclass; every
field may declare what it allows in its metadata:

- ``choices``: a tuple of allowed values;
- ``min`` / ``max``: an inclusive numeric range.

An unknown table or key, a wrong type or a disallowed value raises
:class:`~livevoice.errors.ConfigError` with one line naming the key, the value and what
is allowed.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livevoice.errors import ConfigError


def _range(lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    return {"min": lo, "max": hi}


def _choices(*values: object) -> dict[str, Any]:
    return {"choices": values}


@dataclass(frozen=True)
class AudioConfig:
    """Audio devices and the latency budget everything else is sized from."""

    input_device: str = ""
    """Microphone: a name substring or index from ``livevoice devices``, or a PipeWire/PulseAudio
    source name; "" = system default."""
    output_device: str = ""
    """Where the converted voice goes: a PortAudio device, or a PipeWire/PulseAudio sink name
    (the virtual mic's ``livevoice_out``); "" = on Linux the virtual mic (made at start), elsewhere
    the system default; "default" = the system default output (the speakers)."""
    monitor_device: str = ""
    """Optional second output to hear yourself; "" = off."""
    sample_rate: int = field(default=48000, metadata=_choices(16000, 22050, 24000, 44100, 48000))
    """Device sample rate (Hz). 48 kHz keeps PipeWire's quantum small."""
    latency_budget_ms: int = field(default=300, metadata=_range(60, 5000))
    """Output first-packet budget (ms): device block size and ring sizes are derived from it."""


@dataclass(frozen=True)
class VadConfig:
    """Silero voice activity detection (runs on 16 kHz, 32 ms frames)."""

    threshold: float = field(default=0.5, metadata=_range(0.05, 0.95))
    """Speech probability above which a frame counts as speech."""
    min_silence_ms: int = field(default=250, metadata=_range(32, 5000))
    """Silence needed to declare the end of speech (ms). 100 ms splits sentences at commas."""
    min_speech_ms: int = field(default=96, metadata=_range(0, 5000))
    """Speech shorter than this is ignored (ms)."""
    pre_roll_ms: int = field(default=192, metadata=_range(0, 2000))
    """Audio kept before the detected start so the first syllable is not cut (ms)."""
    max_speech_s: float = field(default=30.0, metadata=_range(2.0, 600.0))
    """An utterance is force-ended after this long (s)."""


@dataclass(frozen=True)
class AsrConfig:
    """Incremental speech recognition with faster-whisper."""

    model: str = "tiny.en"
    """A faster-whisper model name or a local folder. "tiny.en" is embedded (works offline)."""
    device: str = field(default="auto", metadata=_choices("auto", "cpu", "cuda"))
    """Where Whisper runs."""
    compute_type: str = field(
        default="default", metadata=_choices("default", "int8", "int8_float16", "float16", "float32")
    )
    """CTranslate2 compute type; "default" = int8 on CPU, float16 on CUDA."""
    beam_size: int = field(default=5, metadata=_range(1, 10))
    """Beam width; 5 costs ~10 % more than 1 and halves the word error rate here."""
    language: str = "en"
    """Spoken language code ("en" for the .en models)."""
    step_ms: int = field(default=0, metadata=_range(0, 5000))
    """Audio (ms) between the starts of two decodes of the growing utterance while someone
    speaks; a decode never starts before the previous one ended. 0 = 300 on a CPU, 100 on CUDA."""
    min_first_decode_ms: int = field(default=1000, metadata=_range(0, 10000))
    """No decode before the utterance holds this much audio (ms); guards against hallucination."""
    cpu_threads: int = field(default=1, metadata=_range(0, 64))
    """CPU threads for Whisper; 0 = CTranslate2's default."""
    commit_margin_ms: int = field(default=500, metadata=_range(0, 2000))
    """A word is committed during speech only once a decode heard this much audio after it (ms):
    more is steadier (tiny.en guesses at a half-heard last word), less is sooner."""
    commit_min_probability: float = field(default=0.8, metadata=_range(0.0, 1.0))
    """A word Whisper gave less than this probability in one of the two agreeing passes is
    *unsure*: during speech it (and the words after it) is committed only once a pass heard
    ``commit_unsure_margin_ms`` after it; 0 = every word is sure."""
    commit_unsure_margin_ms: int = field(default=900, metadata=_range(0, 30000))
    """The commit margin of an unsure word (ms): tiny.en's unsure first words are often wrong
    and right a few passes later (bench/RESULTS.md)."""
    context_chars: int = field(default=0, metadata=_range(0, 400))
    """The end of the previous utterances' text (up to this many characters) is the prompt of
    the next one; 0 = each utterance decoded alone (best for tiny.en, see bench/RESULTS.md)."""
    context_audio_ms: int = field(default=0, metadata=_range(0, 5000))
    """The last this many ms of the previous utterance's audio (with the pause, when it was at
    most 2 s) are decoded in front of the next one and not committed again; 0 = none. It
    helped tiny.en's first words until ``input_drive`` came; with it, it no longer does and
    doubles each decode (bench/RESULTS.md): off by default, worth measuring with other models."""
    context_reset_s: float = field(default=10.0, metadata=_range(0.0, 3600.0))
    """A pause longer than this (s) forgets that context."""
    encoder_padding_ms: int = field(default=5000, metadata=_range(1000, 30000))
    """Padding Whisper's encoder reads after the buffer (ms); 30000 = its whole 30 s window.

    Less padding is cheaper (a 5 s buffer: ~0.1 s instead of ~0.4 s on a small CPU), but
    under ~3 s tiny.en starts repeating itself at the end of the buffer."""
    input_drive: float = field(default=2.0, metadata=_range(0.0, 10.0))
    """Level the loud samples of each decoded buffer are scaled to before a soft limiter
    (``tanh``), so Whisper hears speech evened out and at one level whatever the microphone
    gain (livevoice.asr.level); 0 = Whisper hears the input as it is."""


@dataclass(frozen=True)
class TtsConfig:
    """Streaming Qwen3-TTS."""

    model: str = "Qwen/Qwen3-TTS-12Hz-0.6B-Base"
    """A *-Base model: a hub id or a local folder."""
    device: str = field(default="auto", metadata=_choices("auto", "cpu", "cuda"))
    """"auto" = CUDA with bf16 when available, else CPU float32."""
    first_chunk_frames: int = field(default=2, metadata=_range(1, 50))
    """Codec frames (80 ms each) in the first audio chunk of a phrase."""
    chunk_frames: int = field(default=4, metadata=_range(1, 100))
    """Codec frames in each later chunk."""
    torch_threads: int = field(default=0, metadata=_range(0, 256))
    """torch CPU threads; 0 = torch's default."""
    language: str = "auto"
    """Language of the spoken text ("auto", "english", ...)."""
    seed: int = field(default=-1, metadata=_range(-1, 2**31 - 1))
    """Seed of the codec-token sampling (same seed + text + voice = same audio); -1 = random."""
    warmup: bool = True
    """Speak one short phrase at load so the first real phrase is not slow."""
    real_time_warning: float = field(default=0.9, metadata=_range(0.0, 100.0))
    """Warn once when recent phrases take more than this many seconds per second of speech (0 = never)."""
    cuda_graphs: bool = True
    """On a GPU, replay each codec frame and each chunk's decoding as CUDA graphs (False: eagerly, slower)."""


@dataclass(frozen=True)
class VoicesConfig:
    """The voice library."""

    library: str = ""
    """Folder of voice files; "" = $XDG_DATA_HOME/livevoice/voices."""
    default_voice: str = ""
    """Voice used at start (a library name or a .safetensors file); "" = the first in the library."""


@dataclass(frozen=True)
class ControlConfig:
    """The websocket control channel."""

    host: str = "127.0.0.1"
    """Address to bind; keep 127.0.0.1 unless you know why."""
    port: int = field(default=4460, metadata=_range(0, 65535))
    """TCP port (0 = any free port)."""
    allowed_origins: tuple[str, ...] = ()
    """Browser Origins allowed to connect besides the daemon's own panel (e.g. "http://localhost:8080")."""
    secret_file: str = ""
    """Where the per-install secret lives; "" = $XDG_CONFIG_HOME/livevoice/secret."""
    max_message_bytes: int = field(default=65536, metadata=_range(1024, 16 * 1024 * 1024))
    """Largest accepted message (bytes)."""
    identify_timeout_s: float = field(default=10.0, metadata=_range(0.1, 600.0))
    """A client must identify within this time (s)."""
    send_queue_size: int = field(default=256, metadata=_range(8, 100000))
    """Messages queued per client before a slow client is disconnected."""


@dataclass(frozen=True)
class DaemonConfig:
    """How the daemon behaves as a whole."""

    mode: str = field(default="convert", metadata=_choices("convert", "passthrough", "mute"))
    """Mode at start: convert the voice, pass the microphone through, or send silence."""
    fallback_to_passthrough: bool = False
    """After a TTS or ASR error, switch to passthrough (your own voice) instead of staying silent."""
    drain_s: float = field(default=2.0, metadata=_range(0.0, 60.0))
    """On SIGTERM, let queued speech finish for up to this long (s)."""


@dataclass(frozen=True)
class TextConfig:
    """The text stage between the ASR and the TTS: phrases, word filter, disfluency clean-up."""

    segment_on: str = field(default="clause", metadata=_choices("clause", "sentence", "end", "stream"))
    """Where committed words are handed to the TTS before the end of speech: after a clause
    (``, ; : . ! ?``), after a sentence (``. ! ?``), only at the end of speech ("end"), or
    "stream": phrases end as with "clause", but the TTS starts a clause on its first
    committed words and is given each later commit while it speaks."""
    min_phrase_words: int = field(default=3, metadata=_range(1, 100))
    """Fewest words in a phrase cut before the end of speech (a lone "So," waits for more);
    with "stream", fewest words of a clause the TTS starts on."""
    max_phrase_words: int = field(default=12, metadata=_range(0, 1000))
    """A phrase this long without a boundary is cut anyway; 0 = no limit. Ignored for "end"."""
    word_filter_file: str = ""
    """List of words/phrases to hide (one per line, # comments, ``word*`` = prefix); "" = off."""
    filter_action: str = field(default="beep", metadata=_choices("beep", "drop", "replace"))
    """What a listed word becomes: a beep, nothing, or ``filter_replacement``."""
    filter_replacement: str = "bleep"
    """The word said instead of a listed word when ``filter_action = "replace"``."""
    clean_disfluencies: bool = False
    """Remove fillers and immediate word and part-word repetitions ("I I w- want" -> "I want")."""
    fillers: tuple[str, ...] = ("um", "uh", "erm", "er", "ah", "hmm", "uhm")
    """Fillers removed by the clean-up (words or phrases; each letter may repeat: "um" = "ummm")."""

    def __post_init__(self) -> None:
        if self.max_phrase_words and self.max_phrase_words < self.min_phrase_words:
            raise ConfigError(
                f"config key text.max_phrase_words = {self.max_phrase_words} is below "
                f"text.min_phrase_words = {self.min_phrase_words}; allowed: 0 (no limit) or at least that"
            )
        if self.filter_action == "replace" and not any(c.isalnum() for c in self.filter_replacement):
            raise ConfigError(
                f"config key text.filter_replacement = {self.filter_replacement!r} has no letter or digit; "
                'it is what filter_action = "replace" says instead of a listed word'
            )
        for filler in self.fillers:
            if not any(c.isalnum() for c in filler) or "*" in filler:
                raise ConfigError(
                    f"config key text.fillers has {filler!r}; allowed: words or phrases of letters or digits"
                )


@dataclass(frozen=True)
class Config:
    """The whole configuration."""

    audio: AudioConfig = AudioConfig()
    vad: VadConfig = VadConfig()
    asr: AsrConfig = AsrConfig()
    tts: TtsConfig = TtsConfig()
    voices: VoicesConfig = VoicesConfig()
    control: ControlConfig = ControlConfig()
    text: TextConfig = TextConfig()
    daemon: DaemonConfig = DaemonConfig()


def default_config_path() -> Path:
    """$XDG_CONFIG_HOME/livevoice/config.toml (the file ``livevoice run`` reads if it exists)."""
    return xdg_config_dir() / "config.toml"


def _describe_type(tp: Any) -> str:
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    return "a list of strings"


def _convert(key: str, tp: Any, value: Any) -> Any:
    """Check ``value`` against the field type ``tp``; return it converted."""
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif (
        typing.get_origin(tp) is tuple and isinstance(value, list) and all(isinstance(v, str) for v in value)
    ):
        return tuple(value)
    raise ConfigError(f"config key {key} = {value!r} is not {_describe_type(tp)}")


def _check_allowed(key: str, value: Any, meta: Any) -> None:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"config key {key} = {value!r} is not allowed; allowed: {allowed}")
    lo, hi = meta.get("min"), meta.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"config key {key} = {value!r} is out of range; allowed: {lo} to {hi}")


def _build_section(name: str, cls: type, table: Any) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"config key {name} must be a table ([{name}]), not {table!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in fields:
            allowed = ", ".join(fields)
            raise ConfigError(f"unknown config key {name}.{key}; keys of [{name}]: {allowed}")
        value = _convert(f"{name}.{key}", hints[key], raw)
        _check_allowed(f"{name}.{key}", value, fields[key].metadata)
        values[key] = value
    return cls(**values)


def config_from_dict(data: dict[str, Any]) -> Config:
    """Build a validated :class:`Config` from parsed TOML."""
    sections = {f.name: f.type for f in dataclasses.fields(Config)}
    hints = typing.get_type_hints(Config)
    built: dict[str, Any] = {}
    for name, table in data.items():
        if name not in sections:
            raise ConfigError(f"unknown config section [{name}]; sections: {', '.join(sections)}")
        built[name] = _build_section(name, hints[name], table)
    return Config(**built)


def load_config(path: Path | None) -> Config:
    """Load and validate a TOML file; ``None`` gives the defaults."""
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {path} cannot be read: {err}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    return config_from_dict(data)


def replace(config: Config, section: str, **changes: Any) -> Config:
    """A copy of ``config`` with keys of one section changed (validated like the file)."""
    current = getattr(config, section)
    merged = {f.name: getattr(current, f.name) for f in dataclasses.fields(current)}
    merged.update(changes)
    merged = {key: list(value) if isinstance(value, tuple) else value for key, value in merged.items()}
    return dataclasses.replace(config, **{section: _build_section(section, type(current), merged)})


def xdg_data_dir() -> Path:
    """$XDG_DATA_HOME/livevoice."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "livevoice"


def xdg_config_dir() -> Path:
    """$XDG_CONFIG_HOME/livevoice."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "livevoice"


__all__ = [
    "AsrConfig",
    "AudioConfig",
    "Config",
    "ControlConfig",
    "DaemonConfig",
    "TextConfig",
    "TtsConfig",
    "VadConfig",
    "VoicesConfig",
    "default_config_path",
    "load_config",
    "replace",
    "xdg_config_dir",
    "xdg_data_dir",
]
