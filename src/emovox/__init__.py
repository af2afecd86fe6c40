"""emovox: speech emotion recognition that is honest about its accuracy."""

from emovox.audio import SAMPLE_RATE, load_audio
from emovox.errors import AudioError, EmovoxError

__version__ = "0.1.0"

__all__ = ["SAMPLE_RATE", "AudioError", "EmovoxError", "__version__", "load_audio"]
