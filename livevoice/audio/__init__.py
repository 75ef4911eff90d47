"""Audio devices, ring buffers, resampling and the virtual microphone."""
