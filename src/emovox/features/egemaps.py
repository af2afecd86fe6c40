"""eGeMAPS v02 functionals (88 values) from openSMILE, an OPTIONAL, NON-COMMERCIAL extra.

openSMILE is not MIT: it is under the audEERING Research License, which allows private,
research and educational (non-commercial) use only; commercial use needs a licence from
audEERING. It is therefore not a dependency of emovox; install it with
``pip install emovox[egemaps]`` and check that your use is allowed. Models trained on
these features carry that restriction too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emovox.audio import SAMPLE_RATE
from emovox.errors import EmovoxError
from emovox.features.base import Extractor, as_signal, register

LICENCE_NOTE = (
    "openSMILE is licensed for research, education and private use only (audEERING "
    "Research License, non-commercial), not MIT like emovox"
)


def import_opensmile() -> Any:
    """Import opensmile, or raise :class:`EmovoxError` saying how to install it."""
    try:
        import opensmile
    except ImportError:
        raise EmovoxError(
            "The 'egemaps' extractor needs openSMILE: install emovox[egemaps] "
            f"(pip install 'emovox[egemaps]'). Note: {LICENCE_NOTE}."
        ) from None
    return opensmile


@register
@dataclass(frozen=True, kw_only=True)
class Egemaps(Extractor):
    """The 88 eGeMAPSv02 functionals of the whole signal, float32 of shape ``(88,)``.

    Pitch, loudness, jitter, shimmer, formants, spectral slopes and their statistics
    (Eyben et al. 2016), the standard hand-crafted set for emotion. Needs the optional
    ``opensmile`` package; {licence}.
    """

    name = "egemaps"

    _smile: Any = field(default=None, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        opensmile = import_opensmile()
        smile = opensmile.Smile(
            feature_set=opensmile.FeatureSet.eGeMAPSv02,
            feature_level=opensmile.FeatureLevel.Functionals,
        )
        object.__setattr__(self, "_smile", smile)

    def feature_names(self) -> list[str]:
        """openSMILE's names of the 88 values, in output order."""
        return list(self._smile.feature_names)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        signal = as_signal(signal)
        with self._lock:  # one openSMILE process per extractor at a time
            table = self._smile.process_signal(signal, SAMPLE_RATE)
        return table.to_numpy(dtype=np.float32)[0]


Egemaps.__doc__ = (Egemaps.__doc__ or "").format(licence=LICENCE_NOTE)
