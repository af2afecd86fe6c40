"""Segmentation: where the speech is (voice activity detection with silero-vad's ONNX model).

- :mod:`~emovox.segmentation.silero`: the model (one shared onnxruntime session) and its
  block-wise :class:`VadStream`;
- :mod:`~emovox.segmentation.regions`: pure post-processing, probabilities -> :class:`Region` s;
- :mod:`~emovox.segmentation.vad`: :func:`speech_regions`, :func:`speech_ratio`,
  :func:`has_speech`, :func:`speech_summary` on a signal;
- :mod:`~emovox.segmentation.online`: :class:`UtteranceSegmenter`, utterances from a stream
  of blocks (a file read block by block, a microphone): the segmenter of timeline and live.

Importing this package loads neither onnxruntime nor the model; the first call does.
"""

from emovox.segmentation.online import Utterance, UtteranceSegmenter
from emovox.segmentation.regions import (
    Region,
    VadParams,
    binarize,
    drop_short,
    hysteresis,
    merge_close,
    pad_regions,
    speech_duration,
)
from emovox.segmentation.silero import (
    CHUNK_MODEL,
    FRAME_DURATION,
    SEQUENCE_MODEL,
    SileroVad,
    VadStream,
    model_path,
    shared_vad,
)
from emovox.segmentation.vad import (
    MIN_SPEECH,
    SpeechSummary,
    has_speech,
    speech_probabilities,
    speech_ratio,
    speech_regions,
    speech_summary,
)

__all__ = [
    "CHUNK_MODEL",
    "FRAME_DURATION",
    "MIN_SPEECH",
    "SEQUENCE_MODEL",
    "Region",
    "SileroVad",
    "SpeechSummary",
    "Utterance",
    "UtteranceSegmenter",
    "VadParams",
    "VadStream",
    "binarize",
    "drop_short",
    "has_speech",
    "hysteresis",
    "merge_close",
    "model_path",
    "pad_regions",
    "shared_vad",
    "speech_duration",
    "speech_probabilities",
    "speech_ratio",
    "speech_regions",
    "speech_summary",
]
