"""Feature extraction: extractors by name, batch extraction over a table, a disk cache.

>>> from emovox.features import make_extractor
>>> extractor = make_extractor({"name": "mfcc_image"})  # or "logmel", "stats", "egemaps"
>>> extractor(signal).shape                              # signal: mono float32, 16 kHz
(39, 216)

To add an extractor, derive a frozen keyword-only dataclass from :class:`Extractor` (or
write any class with ``name``, ``config()`` and ``__call__``) and decorate it with
:func:`register`. If its module is heavy to import, declare it here with
:func:`register_lazy` (e.g. ``register_lazy("whisper", "emovox.features.whisper")``) so
that it is imported only when a config names it.
"""

from emovox.features import egemaps, logmel, mfcc_image, stats  # noqa: F401  (registers)
from emovox.features.base import (
    EXTRACTORS,
    LAZY_EXTRACTORS,
    Extractor,
    FeatureExtractor,
    available_extractors,
    canonical_json,
    config_hash,
    extractor_class,
    make_extractor,
    register,
    register_lazy,
)
from emovox.features.cache import FeatureCache, default_cache_dir, file_sha256
from emovox.features.egemaps import Egemaps
from emovox.features.logmel import LogMel
from emovox.features.mfcc_image import MfccImage
from emovox.features.stats import MfccStats

# Extractors whose modules are imported on first use (they pull in torch):
register_lazy("whisper", "emovox.features.whisper")

__all__ = [
    "EXTRACTORS",
    "LAZY_EXTRACTORS",
    "Egemaps",
    "Extractor",
    "FeatureCache",
    "FeatureExtractor",
    "LogMel",
    "MfccImage",
    "MfccStats",
    "available_extractors",
    "canonical_json",
    "config_hash",
    "default_cache_dir",
    "extract_table",
    "extractor_class",
    "file_sha256",
    "make_extractor",
    "register",
    "register_lazy",
    "stack_features",
]


def __getattr__(name: str):
    # Batch extraction imports pandas; loaded on first use so `emovox predict` starts fast.
    if name in (
        "augmented_features",
        "extract_table",
        "stack_features",
        "table_features",
        "transformed_features",
    ):
        from emovox.features import batch

        return getattr(batch, name)
    raise AttributeError(f"module 'emovox.features' has no attribute {name!r}")
