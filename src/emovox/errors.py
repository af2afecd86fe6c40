"""The error types emovox raises on purpose, all under :class:`EmovoxError`.

Interfaces map them once: the CLI prints the message and exits with code 2, HTTP answers
4xx with the message. Nobody decides what an error means by reading its text: the type
says what went wrong, and ``source`` (when set) names the file or input it concerns.
"""

from __future__ import annotations


class EmovoxError(Exception):
    """Base class of every error emovox raises on purpose.

    Its message is written for a person: what went wrong and, where possible,
    what to do about it. Interfaces (CLI, HTTP) print the message, never a traceback.

    ``source``: the file (or other input) the error is about, when there is one; a message
    that already names it need not be re-wrapped by a caller that processes many inputs.
    """

    def __init__(self, message: str = "", *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class ParameterError(EmovoxError, ValueError):
    """A bad argument or option value (a wrong type, out of range, unknown name).

    Also a :class:`ValueError`, as scikit-learn's estimator contract and Python callers
    expect of a bad parameter.
    """


class AudioError(EmovoxError):
    """Input audio that cannot be used: unreadable, empty, silent, too short, too long, NaN."""


class CorpusError(EmovoxError):
    """A corpus folder or manifest that cannot be read into a table."""


class ModelError(EmovoxError):
    """A model directory that is missing, incomplete or of an unknown format."""


class DeviceError(EmovoxError):
    """No usable microphone or audio device."""


class AudioWarning(UserWarning):
    """Audio that was used, but changed on a guess: float input far outside [-1, 1], or
    integer samples in an array type wider than their values.

    Collect these with :func:`warnings.catch_warnings` (``record=True``) or with
    ``load_audio(..., notes=[])``, or refuse such input with
    ``warnings.simplefilter("error", AudioWarning)``.
    """
