"""Voices as speaker embeddings: files, library, algebra."""
