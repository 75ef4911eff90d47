"""Errors a user can cause.

Every user-caused problem (bad config, unknown device or voice, corrupt file, wrong
embedding size...) is raised as a :class:`LivevoiceError` whose message is one clear
line. The CLI prints that line and exits non-zero; the control server answers it with
a code and a comment; the daemon keeps running.
"""


class LivevoiceError(Exception):
    """A problem the user can fix; ``str(err)`` is one line saying what and how."""


class ConfigError(LivevoiceError):
    """An invalid configuration file or value."""


class DeviceError(LivevoiceError):
    """An audio device that does not exist or cannot be opened."""


class AudioFileError(LivevoiceError):
    """A file that is not readable audio."""


class ModelError(LivevoiceError):
    """A model that cannot be found, downloaded or used."""
