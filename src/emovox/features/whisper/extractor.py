"""``WhisperEmbedding``: pooled hidden states of chosen Whisper encoder layers.

PyTorch is imported when an encoder is first needed, not with this module, so that the
extractor can be registered and configured (and the ONNX fast path can reuse it, see
:mod:`.onnx_encoder`) without paying for ``import torch``. Encoders are loaded once per
process and shared between threads through :func:`emovox.runtime.runtime`, which also
arbitrates torch's process-wide thread count (the extractor's ``threads``).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from emovox.audio.trim import trim_silence
from emovox.errors import EmovoxError, ModelError
from emovox.features.base import Extractor, as_signal, register, require_positive
from emovox.features.whisper import weights
from emovox.features.whisper.log_mel import HOP_LENGTH, SAMPLE_RATE, log_mel
from emovox.runtime import runtime

if TYPE_CHECKING:
    import torch

    from emovox.features.whisper.encoder import WhisperEncoder

DEFAULT_LAYERS: tuple[int, ...] = (3, 4, 5, 6)
"""Layers 3-6 of Whisper base, concatenated: the best probe in /shared/NOTES.md (0.75 UAR)."""

POOLINGS = ("meanstd", "mean")
QUANTIZE = ("int8", "none")
MAX_SECONDS = 30.0
"""Longest chunk the encoder takes: 1500 positions of 20 ms."""
FRAME_RATE = SAMPLE_RATE / (2 * HOP_LENGTH)
"""Encoder frames per second (50: one every 20 ms)."""

CREST_LIMIT = 64.0
"""Linear layers whose input peaks above this many times its RMS stay float32 under int8.

On :func:`calibration_signal`, the inputs of fc2 in Whisper base's layers 4-6 have crest
factors of 85-160 (massive activations, as on real speech); 8-bit per-tensor activation
scales lose the rest of those inputs (embedding cosine to float32 drops to 0.987). All other
Linear inputs stay below 45.
"""


def calibration_signal() -> np.ndarray:
    """A fixed 3 s test signal: 0.5 s near-silence, 1.5 s of a voiced-like tone, 1 s noise.

    Silence and noise frames are what trigger Whisper's massive activations; a voiced
    tone alone does not.
    """
    rng = np.random.default_rng(0)
    t = np.arange(int(1.5 * SAMPLE_RATE)) / SAMPLE_RATE
    phase = 2 * np.pi * np.cumsum(140 + 30 * np.sin(2 * np.pi * 0.7 * t)) / SAMPLE_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 9)) * (1 + 0.8 * np.sin(8 * np.pi * t))
    silence = 0.002 * rng.standard_normal(SAMPLE_RATE // 2)
    noise = 0.05 * rng.standard_normal(SAMPLE_RATE)
    return np.concatenate([silence, 0.1 * voice, noise]).astype(np.float32)


def outlier_linears(encoder: WhisperEncoder, *, limit: float = CREST_LIMIT) -> set[str]:
    """Names of the Linear layers whose input crest factor exceeds ``limit`` on
    :func:`calibration_signal`."""
    import torch

    crest: dict[str, float] = {}
    handles = []
    for name, module in encoder.named_modules():
        if isinstance(module, torch.nn.Linear):

            def hook(_module: Any, inputs: tuple[torch.Tensor, ...], _out: Any, name=name) -> None:
                x = inputs[0]
                crest[name] = float(x.abs().max() / x.pow(2).mean().sqrt().clamp_min(1e-12))

            handles.append(module.register_forward_hook(hook))
    try:
        with torch.inference_mode():
            encoder(torch.from_numpy(log_mel(calibration_signal()))[None])
    finally:
        for handle in handles:
            handle.remove()
    return {name for name, value in crest.items() if value > limit}


def _int8_engine() -> str:
    """oneDNN where the CPU has VNNI (int8 dot products; ~25 % faster), else the default."""
    import torch

    engines = torch.backends.quantized.supported_engines
    vnni = getattr(torch.cpu, "_is_vnni_supported", lambda: False)()
    return "onednn" if vnni and "onednn" in engines else torch.backends.quantized.engine


def _quantize_int8(encoder: WhisperEncoder) -> WhisperEncoder:
    """A copy of ``encoder`` whose Linear layers run in dynamic int8 (per-channel weights),
    except those with outlier inputs (:func:`outlier_linears`), which stay float32."""
    try:
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    except ImportError:
        raise ModelError(
            "This PyTorch has no torch.ao.quantization.quantize_dynamic; use quantize='none'."
        ) from None
    import torch

    keep = outlier_linears(encoder)
    qconfig = {
        name: per_channel_dynamic_qconfig
        for name, module in encoder.named_modules()
        if isinstance(module, torch.nn.Linear) and name not in keep
    }
    # The engine is process-wide: hold the runtime's lock while it is switched and back.
    with runtime().torch_switches(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the eager API is deprecated, not yet removed
        previous = torch.backends.quantized.engine
        try:
            torch.backends.quantized.engine = _int8_engine()  # weights are packed for it
            return quantize_dynamic(encoder, qconfig, dtype=torch.qint8)
        finally:
            torch.backends.quantized.engine = previous


KIND = "whisper-torch"
"""Kind of the PyTorch encoders' keys in :func:`emovox.runtime.runtime`."""


def load_encoder(
    model: str = "base",
    *,
    path: str | None = None,
    quantize: str = "int8",
    sha256: str | None = None,
) -> WhisperEncoder:
    """The encoder for ``model`` (or ``path``), built once per process and shared.

    Weights are found and checked by :func:`emovox.features.whisper.weights.locate`. Safe to
    call from many threads at once: the first caller loads, the others wait for it.
    """
    if quantize not in QUANTIZE:
        raise EmovoxError(f"quantize must be one of {QUANTIZE}, got {quantize!r}.")
    files = weights.locate(model, path=path, sha256=sha256)
    shared = runtime().shared

    def load_float() -> WhisperEncoder:
        from emovox.features.whisper.ct2_format import read_ct2_model
        from emovox.features.whisper.encoder import WhisperEncoder

        parsed = read_ct2_model(files.parts, keep=lambda n: n.startswith("encoder/"))
        return WhisperEncoder.from_ct2(parsed)

    float_encoder = shared((KIND, files.key, "none"), load_float)
    if quantize == "none":
        return float_encoder
    return shared((KIND, files.key, quantize), lambda: _quantize_int8(float_encoder))


def clear_cache() -> None:
    """Forget the PyTorch encoders loaded so far (tests, or to free memory)."""
    runtime().clear(KIND)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch threads: :meth:`.Runtime.torch_threads`."""
    with runtime().torch_threads(threads):
        yield


def chunk_bounds(n_samples: int, max_samples: int) -> list[tuple[int, int]]:
    """Split ``n_samples`` into equal chunks of at most ``max_samples`` (multiples of 20 ms)."""
    step = 2 * HOP_LENGTH
    max_samples = max(step, max_samples // step * step)
    n_chunks = -(-n_samples // max_samples)
    per_chunk = -(-n_samples // n_chunks)
    size = -(-per_chunk // step) * step
    return [(start, min(start + size, n_samples)) for start in range(0, n_samples, size)]


def _check_layers(layers: Any) -> tuple[int, ...] | str:
    """``layers`` as a tuple of distinct ints >= 0, or ``"all"``."""
    if isinstance(layers, str):
        if layers != "all":
            raise EmovoxError(f"layers must be a list of layer numbers or 'all', got {layers!r}.")
        return layers
    problem = f"layers must be distinct layer numbers >= 0 or 'all', got {layers!r}."
    try:
        values = tuple(int(i) for i in layers)
    except (TypeError, ValueError):
        raise EmovoxError(problem) from None
    if not values or min(values) < 0 or len(set(values)) != len(values):
        raise EmovoxError(problem)
    if any(isinstance(i, bool) or int(i) != i for i in layers):
        raise EmovoxError(problem)
    return values


@register
@dataclass(frozen=True, kw_only=True)
class WhisperEmbedding(Extractor):
    """Mean (and std) over time of chosen Whisper encoder layers, concatenated.

    Parameters:
        model: packaged Whisper weights to use (``"base"``; ``"tiny.en"`` if installed).
        layers: 1-based encoder layers to pool (0 is the input to layer 1), or ``"all"``.
            Layer ``n_layers`` is taken after the final LayerNorm.
        pooling: ``"meanstd"`` (per layer, mean then std over time: ``2 * 512`` values per
            layer for base) or ``"mean"``.
        max_seconds: longer input is split into equal chunks of at most this length (at
            most 30 s, the length of Whisper's position table) whose frames are pooled
            together.
        threads: PyTorch intra-op threads while this extractor runs (None: leave as is).
            The count is process-wide: concurrent calls asking for another count wait
            their turn, and the previous count is restored (:mod:`emovox.runtime`).
        quantize: ``"int8"`` (dynamic int8 Linear layers except those with outlier
            inputs: about 2x faster on CPU, embedding cosine to float32 > 0.995) or
            ``"none"`` (float32).
        path: a CTranslate2 Whisper model folder or ``model.bin`` instead of the packaged
            weights (else ``$EMOVOX_WHISPER_MODEL``); its sha256 is reported, not enforced.
        trim_db: when set, leading and trailing audio more than this many dB below the
            peak is cut before encoding (:func:`emovox.audio.trim.trim_silence`), so the
            pooled statistics describe the speech rather than the silence around it.
    """

    name = "whisper"

    model: str = "base"
    layers: tuple[int, ...] | str = DEFAULT_LAYERS
    pooling: str = "meanstd"
    max_seconds: float = 30.0
    threads: int | None = 1
    quantize: str = "int8"
    path: str | None = None
    trim_db: float | None = None

    _encoder: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "layers", _check_layers(self.layers))
        if self.pooling not in POOLINGS:
            raise EmovoxError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}.")
        if self.quantize not in QUANTIZE:
            raise EmovoxError(f"quantize must be one of {QUANTIZE}, got {self.quantize!r}.")
        require_positive(self, max_seconds=self.max_seconds)
        if self.max_seconds > MAX_SECONDS:
            raise EmovoxError(
                f"max_seconds is at most {MAX_SECONDS:.0f} (Whisper's position table), "
                f"got {self.max_seconds}."
            )
        if self.threads is not None:
            require_positive(self, threads=self.threads)

    def config(self) -> dict[str, Any]:
        """The parameters, JSON-able (layers as a list), with the name ``"whisper"``."""
        config = super().config()
        if config.get("trim_db") is None:
            # Omitted when off, so configs (and cache keys) from before the option still match.
            config.pop("trim_db", None)
        if not isinstance(self.layers, str):
            config["layers"] = list(self.layers)
        return config

    # ------------------------------------------------------------------ model

    def encoder(self) -> WhisperEncoder:
        """The shared encoder these parameters ask for (loaded on first use)."""
        if self._encoder is None:
            encoder = load_encoder(self.model, path=self.path, quantize=self.quantize)
            object.__setattr__(self, "_encoder", encoder)
        return self._encoder

    def weights_info(self) -> dict[str, str]:
        """Which weights these parameters resolve to: ``{"sha256": ..., "source": ...}``.

        Saved models record it, so that loading one with other weights (another
        ``$EMOVOX_WHISPER_MODEL``, say) fails clearly instead of predicting nonsense.
        """
        files = weights.locate(self.model, path=self.path)
        return {"sha256": files.sha256, "source": files.source}

    def layer_indices(self) -> tuple[int, ...]:
        """The layers pooled, ``"all"`` resolved (needs the model)."""
        return self.resolve_layers(self.encoder().n_layers)

    def resolve_layers(self, n_layers: int) -> tuple[int, ...]:
        """The layers pooled for an encoder of ``n_layers`` layers, ``"all"`` resolved."""
        if self.layers == "all":
            return tuple(range(1, n_layers + 1))
        too_deep = [i for i in self.layers if i > n_layers]
        if too_deep:
            raise EmovoxError(
                f"Whisper {self.model} has {n_layers} encoder layers; "
                f"cannot pool layers {too_deep}."
            )
        return tuple(self.layers)

    @property
    def dim(self) -> int:
        """Length of the vector :meth:`__call__` returns."""
        width = self.encoder().ln_post.normalized_shape[0]
        return len(self.layer_indices()) * width * (2 if self.pooling == "meanstd" else 1)

    # ------------------------------------------------------------------ features

    def layer_frames(self, signal16k: np.ndarray) -> np.ndarray:
        """Hidden states of the chosen layers, float32 ``(layers, frames, width)``.

        One frame per 20 ms (:data:`FRAME_RATE`), the end padded to a whole frame; input
        longer than ``max_seconds`` is encoded in chunks whose frames are concatenated.
        """
        import torch

        signal = as_signal(signal16k)
        if self.trim_db is not None:
            signal = trim_silence(signal, top_db=self.trim_db)
        encoder = self.encoder()
        indices = self.layer_indices()
        depth = max(indices)
        max_samples = min(int(self.max_seconds * SAMPLE_RATE), encoder.max_frames * HOP_LENGTH)
        pieces = []
        with runtime().torch_threads(self.threads), torch.inference_mode():
            for start, end in chunk_bounds(signal.size, max_samples):
                mel = torch.from_numpy(log_mel(signal[start:end]))[None]
                states = encoder(mel, num_layers=depth)
                pieces.append(torch.stack([states[i][0] for i in indices]).numpy())
        return np.concatenate(pieces, axis=1).astype(np.float32, copy=False)

    def __call__(self, signal16k: np.ndarray) -> np.ndarray:
        """The pooled embedding, float32 of shape ``(dim,)``: per layer mean (then std)."""
        frames = self.layer_frames(signal16k)
        return pool(frames, pooling=self.pooling)


def pool(frames: np.ndarray, *, pooling: str = "meanstd") -> np.ndarray:
    """Pool ``(layers, frames, width)`` over time into one float32 vector, layer by layer."""
    mean = frames.mean(axis=1)
    if pooling == "mean":
        parts = mean
    elif pooling == "meanstd":
        parts = np.concatenate([mean, frames.std(axis=1)], axis=1)
    else:
        raise EmovoxError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
    return parts.reshape(-1).astype(np.float32)
