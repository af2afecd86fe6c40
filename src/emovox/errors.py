"""The one error type users catch: :class:`EmovoxError` and its audio flavour."""

from __future__ import annotations


class EmovoxError(Exception):
    """Base class of every error emovox raises on purpose.

    Its message is written for a person: what went wrong and, where possible,
    what to do about it. Interfaces (CLI, HTTP) print the message, never a traceback.
    """


class AudioError(EmovoxError):
    """Input audio that cannot be used: unreadable, empty, silent, too short, too long, NaN."""


class CorpusError(EmovoxError):
    """A corpus folder or manifest that cannot be read into a table."""


class ModelError(EmovoxError):
    """A model directory that is missing, incomplete or of an unknown format."""


class DeviceError(EmovoxError):
    """No usable microphone or audio device."""
