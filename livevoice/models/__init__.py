"""The models: the TTS model on disk (hub ids and aliases, local folders, downloads with
progress) and the loaded set the loop uses (:func:`load_models`)."""

from livevoice.models.loaded import Models, load_models

__all__ = ["Models", "load_models"]
