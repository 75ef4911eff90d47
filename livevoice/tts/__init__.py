"""Streaming text-to-speech."""
