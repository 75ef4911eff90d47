"""Helpers that build small real test assets (tiny models, synthesized speech)."""
