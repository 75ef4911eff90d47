"""The TTS model on disk: hub ids and aliases, local folders, downloads with progress."""
