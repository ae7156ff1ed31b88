"""The project's own exception types.

Every error a user can cause (a bad file, a missing port, a damaged model) is raised as one
of these, with a message that fits on one line, so that the CLI can print it without a
traceback. Library errors are wrapped with ``raise ... from err``.
"""


class LiveBiaxialError(Exception):
    """Base class: a problem the user can fix, reported as one line."""


class BadMidiFile(LiveBiaxialError):
    """A file that is not MIDI, is damaged, or has no usable notes."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DataError(LiveBiaxialError):
    """A data source that cannot be used at all (unreadable folder, no usable piece)."""


class ModelFileError(LiveBiaxialError):
    """A model or checkpoint file that is missing, damaged or of the wrong version."""


class PortError(LiveBiaxialError, OSError):
    """A MIDI port that cannot be found or opened, or no MIDI system at all."""
