"""Voice activity detection and incremental speech recognition."""
