"""emovox: speech emotion recognition that is honest about its accuracy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emovox.audio import SAMPLE_RATE, load_audio
from emovox.errors import AudioError, EmovoxError, ModelError, ParameterError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from emovox.recognizer import Recognizer
    from emovox.results import Failure, Prediction


def __getattr__(name: str) -> Any:
    # Imported lazily: the recognizer pulls in scikit-learn and the feature extractors.
    if name in {"Recognizer", "Prediction", "Failure"}:
        from emovox import recognizer

        return getattr(recognizer, name)
    raise AttributeError(f"module 'emovox' has no attribute {name!r}")


__all__ = [
    "SAMPLE_RATE",
    "AudioError",
    "EmovoxError",
    "Failure",
    "ModelError",
    "ParameterError",
    "Prediction",
    "Recognizer",
    "__version__",
    "load_audio",
]
