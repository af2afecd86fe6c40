"""Whisper's encoder in onnxruntime, for predictions that start fast and never import torch.

The ONNX file is derived from the installed weights and cannot be shipped, so it is built
on first use: the PyTorch encoder (:mod:`.encoder`) is exported with a dynamic frame axis
and every hidden state as one stacked output (index 0 the input to layer 1, index ``i``
the output of layer ``i``, the last one after the final LayerNorm), optionally quantized to
dynamic int8, and written atomically to ``whisper/onnx`` under emovox's cache folder
(:func:`emovox.cache_root.cache_root`: ``$EMOVOX_CACHE``, ``$XDG_CACHE_HOME/emovox`` or
``~/.cache/emovox``, else a per-user temporary folder) under the weights' sha256 and the
variant. Later processes only open it: they need numpy and onnxruntime, not torch. Building
needs ``torch`` and ``onnx``; :data:`BUILD_MESSAGE` is printed only when a build really
starts (the folder was writable), and a failed build is one :class:`ModelError` sentence.

Sessions are opened once per process and shared by all threads
(:func:`emovox.runtime.runtime`; onnxruntime sessions may run concurrently). onnxruntime's
own console log is kept to errors, and its telemetry is off unless the user set
``ORT_DISABLE_TELEMETRY`` (emovox never uses the network, and the telemetry's device-id
file is what prints a colour-coded warning when the home folder is read-only).

Variants follow :class:`~.extractor.WhisperEmbedding`'s ``quantize``:

* ``"none"`` -> ``fp32``: the float32 encoder (embedding cosine to torch's > 0.9999).
* ``"int8"`` -> ``int8``: the PyTorch int8 path's quantization, same layers (those with
  outlier inputs stay float32, :func:`~.extractor.outlier_linears`), same int8 weights and
  the same activation arithmetic (7-bit, per tensor; see :mod:`.onnx_int8`), so that its
  embeddings track the reference ones rather than merely float32's.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emovox.audio.trim import trim_silence
from emovox.errors import EmovoxError, ModelError
from emovox.features.base import as_signal
from emovox.features.whisper import weights
from emovox.features.whisper.extractor import WhisperEmbedding, chunk_bounds, pool
from emovox.features.whisper.log_mel import HOP_LENGTH, SAMPLE_RATE, log_mel
from emovox.runtime import runtime

EXPORT_VERSION = 3
"""Bump when the exported graph changes, so that caches built before are rebuilt."""

VARIANTS = {"none": "fp32", "int8": "int8"}
"""ONNX variant for each ``quantize`` value of the extractor."""

OPSET = 17
LINEAR_NAMES = ("qkv", "out", "fc1", "fc2")
"""The encoder's Linear layers (see :class:`~.encoder.EncoderLayer`)."""

BUILD_MESSAGE = "preparing the Whisper encoder for fast start (once) ..."

KIND = "whisper-onnx"
"""Kind of the ONNX sessions' keys in :func:`emovox.runtime.runtime`."""

TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY"
"""onnxruntime's telemetry switch, read when it is imported; emovox sets it to 1 if unset."""

QUIET = 3
"""onnxruntime log severity for emovox's sessions and its default logger: errors only."""


@dataclass(frozen=True)
class EncoderInfo:
    """What the ONNX file's metadata says about the encoder inside it."""

    weights_sha256: str
    variant: str
    n_layers: int
    width: int
    n_mels: int
    max_frames: int

    def metadata(self) -> dict[str, str]:
        return {
            "emovox_export_version": str(EXPORT_VERSION),
            "weights_sha256": self.weights_sha256,
            "variant": self.variant,
            "n_layers": str(self.n_layers),
            "width": str(self.width),
            "n_mels": str(self.n_mels),
            "max_frames": str(self.max_frames),
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> EncoderInfo:
        if meta.get("emovox_export_version") != str(EXPORT_VERSION):
            raise ModelError("The cached ONNX encoder was built by another emovox version.")
        try:
            return cls(
                weights_sha256=meta["weights_sha256"],
                variant=meta["variant"],
                n_layers=int(meta["n_layers"]),
                width=int(meta["width"]),
                n_mels=int(meta["n_mels"]),
                max_frames=int(meta["max_frames"]),
            )
        except (KeyError, ValueError) as exc:
            raise ModelError(f"The cached ONNX encoder has incomplete metadata ({exc}).") from None


def cache_path(files: weights.ModelFiles, variant: str) -> Path:
    """Where the ONNX encoder for these weights and variant is cached."""
    name = f"encoder-{files.sha256}-{variant}-v{EXPORT_VERSION}.onnx"
    return weights.cache_dir() / "whisper" / "onnx" / name


class OnnxWhisperEncoder:
    """An onnxruntime session over a cached encoder: ``(n_mels, frames)`` log-mel in,
    ``(n_layers + 1, frames / 2, width)`` hidden states out."""

    def __init__(self, path: str | Path, *, threads: int | None = 1) -> None:
        ort = _onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = QUIET
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
            meta = self.session.get_modelmeta().custom_metadata_map
        except Exception as exc:  # onnxruntime raises its own, unexported, exception types
            raise ModelError(f"Cannot open the ONNX encoder '{path}' ({_one_line(exc)}).") from None
        self.info = EncoderInfo.from_metadata(meta)
        self.path = Path(path)

    @property
    def n_layers(self) -> int:
        return self.info.n_layers

    @property
    def max_frames(self) -> int:
        return self.info.max_frames

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        """Hidden states of one ``(n_mels, frames)`` log-mel, frames even."""
        if mel.shape[-1] > self.max_frames:
            raise ValueError(
                f"{mel.shape[-1]} mel frames exceed the encoder's {self.max_frames}; chunk it."
            )
        feed = np.ascontiguousarray(mel, dtype=np.float32)[None]
        return self.session.run(None, {"mel": feed})[0]


def _onnxruntime() -> Any:
    """onnxruntime, imported with telemetry off (unless the user chose) and a quiet log."""
    first = "onnxruntime" not in sys.modules
    if first:
        os.environ.setdefault(TELEMETRY_ENV, "1")  # read by the library as it loads
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelError(
            f"onnxruntime cannot be imported ({_one_line(exc)}); it is an emovox dependency: "
            "pip install 'onnxruntime>=1.32'."
        ) from None
    if first:
        onnxruntime.set_default_logger_severity(QUIET)
    return onnxruntime


def _one_line(exc: BaseException) -> str:
    """An exception as one line: OSError's reason and file, else the first line of its text."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": '{exc.filename}'" if exc.filename else ""
        return f"{exc.strerror}{where}"
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def load_onnx_encoder(
    model: str = "base",
    *,
    path: str | None = None,
    quantize: str = "int8",
    threads: int | None = 1,
    build: bool = True,
) -> OnnxWhisperEncoder:
    """The ONNX encoder for these weights (see :func:`weights.locate`), shared per process.

    Builds and caches the ONNX file when it is missing or unusable (``build=False``:
    raise :class:`ModelError` instead). Safe to call from many threads at once: one opens
    (or builds), the others wait for it.

    Raises:
        ModelError: when onnxruntime is missing, or the file cannot be built or opened.
        EmovoxError: when there is no usable cache folder at all.
    """
    if quantize not in VARIANTS:
        raise EmovoxError(f"quantize must be one of {tuple(VARIANTS)}, got {quantize!r}.")
    _onnxruntime()
    variant = VARIANTS[quantize]
    files = weights.locate(model, path=path)
    target = cache_path(files, variant)

    def load() -> OnnxWhisperEncoder:
        encoder = _open(target, files, variant, threads) if target.is_file() else None
        if encoder is None:
            if not build:
                raise ModelError(f"No usable ONNX encoder at '{target}'.")
            build_onnx(files, variant, target)
            encoder = OnnxWhisperEncoder(target, threads=threads)
        return encoder

    return runtime().shared((KIND, str(target), threads), load)


def _open(
    target: Path, files: weights.ModelFiles, variant: str, threads: int | None
) -> OnnxWhisperEncoder | None:
    """The cached encoder, or None when it is damaged or not the one asked for."""
    try:
        encoder = OnnxWhisperEncoder(target, threads=threads)
    except ModelError:
        return None
    info = encoder.info
    return encoder if (info.weights_sha256, info.variant) == (files.sha256, variant) else None


def clear_cache() -> None:
    """Forget the sessions opened so far (tests)."""
    runtime().clear(KIND)


# ------------------------------------------------------------------ building


def build_onnx(
    files: weights.ModelFiles, variant: str, target: Path, *, quiet: bool = False
) -> Path:
    """Export the encoder of ``files`` as ONNX ``variant`` to ``target`` (atomically).

    :data:`BUILD_MESSAGE` goes to stderr (unless ``quiet``) once the folder has proved
    writable, so it is printed only for a build that can succeed.

    Raises:
        ModelError: when torch or onnx is missing, or the build fails (one sentence: what,
            where and why).
    """
    if variant not in VARIANTS.values():
        raise EmovoxError(f"variant must be one of {tuple(VARIANTS.values())}, got {variant!r}.")
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise ModelError(
            f"Building the ONNX encoder needs torch and onnx ({exc}); pip install onnx, "
            "or predict with Recognizer.load(path, fast=False)."
        ) from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
            if not quiet:
                print(BUILD_MESSAGE, file=sys.stderr, flush=True)
            _build(files, variant, target, Path(tmp))
    except ModelError:
        raise
    except Exception as exc:  # OSError, or whatever the exporter raises
        writing = isinstance(exc, OSError)
        advice = f" Set {weights.CACHE_ENV} to a writable folder." if writing else ""
        raise ModelError(
            f"Cannot build the fast ONNX encoder in '{target.parent}' ({_one_line(exc)}).{advice}"
        ) from exc
    for old in target.parent.glob(f"encoder-{files.sha256}-{variant}-v*.onnx"):
        if old != target:
            old.unlink(missing_ok=True)  # built by an earlier emovox
    return target


def _build(files: weights.ModelFiles, variant: str, target: Path, tmp: Path) -> None:
    """Export, quantize and label the encoder in ``tmp``; move the result to ``target``."""
    import onnx

    from emovox.features.whisper.ct2_format import read_ct2_model
    from emovox.features.whisper.encoder import WhisperEncoder

    parsed = read_ct2_model(files.parts, keep=lambda n: n.startswith("encoder/"))
    encoder = WhisperEncoder.from_ct2(parsed)
    info = EncoderInfo(
        weights_sha256=files.sha256,
        variant=variant,
        n_layers=encoder.n_layers,
        width=int(encoder.ln_post.normalized_shape[0]),
        n_mels=int(encoder.conv1.in_channels),
        max_frames=encoder.max_frames,
    )
    exported = tmp / "fp32.onnx"
    _export(encoder, exported, n_mels=info.n_mels)
    model = onnx.load(str(exported))
    if variant == "int8":
        _to_torch_int8(model, encoder)
    for key, value in info.metadata().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    staged = tmp / "final.onnx"
    onnx.save(model, str(staged))
    os.replace(staged, target)


def _to_torch_int8(model: Any, encoder: Any) -> None:
    """Quantize ``model``'s Linear MatMuls exactly as the reference int8 encoder does.

    The layers and int8 weights are those of :func:`~.extractor._quantize_int8` (outlier
    layers stay float32); the arithmetic is :func:`~.onnx_int8.rewrite_int8`'s.
    """
    from emovox.features.whisper.extractor import _quantize_int8
    from emovox.features.whisper.onnx_int8 import rewrite_int8

    modules = dict(_quantize_int8(encoder).named_modules())
    weights_by_node = {}
    for node in model.graph.node:
        parts = node.name.strip("/").split("/")  # "/inner/layers.3/fc2/MatMul"
        if node.op_type != "MatMul" or len(parts) < 3 or parts[-2] not in LINEAR_NAMES:
            continue
        module = modules.get(f"{parts[-3]}.{parts[-2]}")
        if module is None:
            raise ModelError(f"The exported encoder has an unexpected layer '{node.name}'.")
        if hasattr(module, "_packed_params"):  # quantized; float32 otherwise
            weight = module.weight()
            weights_by_node[node.name] = (
                weight.int_repr().numpy(),
                weight.q_per_channel_scales().numpy().astype(np.float32),
            )
    if not weights_by_node or rewrite_int8(model, weights_by_node) != len(weights_by_node):
        raise ModelError("Could not quantize the exported Whisper encoder.")


def _stacked(encoder: Any) -> Any:
    """A torch module returning ``encoder``'s hidden states stacked (batch of one)."""
    import torch

    class Stacked(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, mel: torch.Tensor) -> torch.Tensor:
            return torch.stack([state[0] for state in self.inner(mel)])

    return Stacked(encoder).eval()


def _export(encoder: Any, path: Path, *, n_mels: int) -> None:
    import torch

    example = torch.zeros(1, n_mels, 300)
    with warnings.catch_warnings(), _quiet_stdout():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated, and traces
        torch.onnx.export(
            _stacked(encoder),
            (example,),
            str(path),
            input_names=["mel"],
            output_names=["states"],
            dynamic_axes={"mel": {2: "frames"}, "states": {1: "positions"}},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Keep exporter chatter off stdout (the CLI prints JSON there)."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


# ------------------------------------------------------------------ the extractor


class OnnxWhisperEmbedding:
    """:class:`~.extractor.WhisperEmbedding`'s embedding, computed with onnxruntime.

    Same configuration, chunking, trimming and pooling as ``reference``; only the encoder
    differs (to float rounding for ``quantize="none"``, to int8 rounding otherwise).
    """

    name = "whisper"

    def __init__(self, reference: WhisperEmbedding, *, build: bool = True) -> None:
        if not isinstance(reference, WhisperEmbedding):
            raise EmovoxError(f"Expected a WhisperEmbedding, got {type(reference).__name__}.")
        self.reference = reference
        self.encoder = load_onnx_encoder(
            reference.model,
            path=reference.path,
            quantize=reference.quantize,
            threads=reference.threads,
            build=build,
        )
        self.indices = reference.resolve_layers(self.encoder.n_layers)

    def config(self) -> dict[str, Any]:
        return self.reference.config()

    @property
    def dim(self) -> int:
        pooled = 2 if self.reference.pooling == "meanstd" else 1
        return len(self.indices) * self.encoder.info.width * pooled

    def layer_frames(self, signal16k: np.ndarray) -> np.ndarray:
        """Hidden states of the chosen layers, float32 ``(layers, frames, width)``."""
        signal = as_signal(signal16k)
        if self.reference.trim_db is not None:
            signal = trim_silence(signal, top_db=self.reference.trim_db)
        max_samples = min(
            int(self.reference.max_seconds * SAMPLE_RATE), self.encoder.max_frames * HOP_LENGTH
        )
        pieces = []
        for start, end in chunk_bounds(signal.size, max_samples):
            states = self.encoder(log_mel(signal[start:end], n_mels=self.encoder.info.n_mels))
            pieces.append(states[list(self.indices)])
        return np.concatenate(pieces, axis=1).astype(np.float32, copy=False)

    def __call__(self, signal16k: np.ndarray) -> np.ndarray:
        """The pooled embedding, float32 of shape ``(dim,)``."""
        return pool(self.layer_frames(signal16k), pooling=self.reference.pooling)
