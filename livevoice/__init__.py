"""livevoice: real-time voice conversion into a virtual microphone."""

__version__ = "0.1.0"
