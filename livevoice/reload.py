"""SIGHUP: read the config file again; put the text settings in force, say what needs a restart.

Only the ``[text]`` settings (and ``[daemon]`` behaviour read as it is needed) change a
running daemon; devices, models and the control server are set up once. A config that
does not load leaves everything as it was; a ``[text]`` section whose word list cannot be
read keeps the text settings in force. Either is reported as one line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from livevoice.config import Config, load_config
from livevoice.controls import LiveControls
from livevoice.errors import LivevoiceError

RESTART_SECTIONS = ("audio", "vad", "asr", "tts", "control")
"""Config sections whose changes take effect only after a restart."""


@dataclass(frozen=True)
class Reloaded:
    """What a reload did."""

    config: Config
    """The config now in force (the old one when the file did not load)."""
    loaded: bool
    """False when the file did not load (nothing changed)."""
    errors: tuple[str, ...]
    """One line per thing not reloaded."""
    needs_restart: tuple[str, ...]
    """Sections that changed but take effect only after a restart."""

    def summary(self) -> str:
        """The line to log after a reload that loaded."""
        if not self.needs_restart:
            return "config reloaded"
        return f"config reloaded; changes to [{'], ['.join(self.needs_restart)}] take effect after a restart"


def reload_config(path: Path | None, current: Config, controls: LiveControls) -> Reloaded:
    """Load the config at ``path`` (the default places when None) and apply what can be applied live."""
    try:
        new = load_config(path)
    except LivevoiceError as err:
        return Reloaded(current, False, (f"config not reloaded: {err}",), ())
    errors: list[str] = []
    try:
        controls.set_text_config(new.text)
    except LivevoiceError as err:  # e.g. the word list file is gone: keep the text settings in force
        errors.append(f"text settings not reloaded: {err}")
        new = dataclasses.replace(new, text=current.text)
    changed = tuple(s for s in RESTART_SECTIONS if getattr(new, s) != getattr(current, s))
    return Reloaded(new, True, tuple(errors), changed)


__all__ = ["RESTART_SECTIONS", "Reloaded", "reload_config"]
