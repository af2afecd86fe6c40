"""Silero VAD (v6, MIT) run with onnxruntime: one speech probability per 32 ms of 16 kHz audio.

The model files come from the PyPI wheel ``silero-vad==6.2.3``, found through
``importlib.metadata`` (never by importing ``silero_vad``, which imports torch and calls
``torch.set_num_threads(1)`` process-wide) and checked against the sha256 in :data:`PACKAGED`.
The wheel ships the same network as two graphs, both run here (read from the files):

- ``silero_vad.onnx``, one chunk per call: ``input`` float32 (1, 576) = 64 samples of
  context (the end of the previous chunk, zeros at the start) + a 512-sample chunk,
  ``state`` float32 (2, 1, 128), ``sr`` int64 scalar -> ``output`` (1, 1), ``stateN``;
- ``silero_vad_16k_sequence.onnx`` (the default), many chunks per call: ``input`` (n, 576)
  built the same way, LSTM ``h`` and ``c`` (1, 1, 128) -> ``speech_probs`` (n,), ``hn``, ``cn``.

Both give the same probabilities (tested to 1e-5; bit-identical on this CPU); the sequence
graph is faster because the loop over chunks runs inside onnxruntime, which releases the GIL.
A signal's tail shorter than 512 samples is zero-padded, as silero-vad's ``audio_forward`` does.

Design: :class:`SileroVad` holds one ``InferenceSession`` (1 intra-op thread by default),
which onnxruntime lets several threads run at once; the recurrent state and the context live
in a :class:`VadStream`, one per signal or microphone, never in the shared object.
Whole-signal :meth:`SileroVad.probabilities` is a stream fed in one block, so block-wise
processing gives identical numbers (tested). :func:`shared_vad` loads one instance per process,
lazily and under a lock; importing emovox loads neither onnxruntime nor the model.

Measured on this project's 2-core CPU machine (1 intra-op thread; ranges: idle to both cores
busy with other jobs): first :func:`shared_vad` call (onnxruntime import, sha256, session) 45 ms;
a 3 s clip 5.5-9 ms with the sequence graph (14-20 ms chunk by chunk); 60 s of audio 0.11-0.16 s
(0.28-0.40 s chunk by chunk), i.e. 400-550x real time.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emovox.errors import AudioError, ModelError, ParameterError

if TYPE_CHECKING:
    import onnxruntime

SAMPLE_RATE = 16_000
"""The only rate the model is run at; other rates are resampled before it."""
CHUNK = 512
"""New samples per model step (32 ms at 16 kHz)."""
CONTEXT = 64
"""Samples of the previous chunk prepended to each step's input (silero v5+)."""
FRAME_DURATION = CHUNK / SAMPLE_RATE
"""Seconds covered by one probability."""
MAX_CHUNKS_PER_CALL = 512
"""Chunks (16.4 s) per call of the sequence graph, bounding its memory on long signals."""

DISTRIBUTION = "silero-vad"
DISTRIBUTION_VERSION = "6.2.3"
SEQUENCE_MODEL = "silero_vad_16k_sequence.onnx"
CHUNK_MODEL = "silero_vad.onnx"
PACKAGED = {
    SEQUENCE_MODEL: "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85",
    CHUNK_MODEL: "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
}
"""The model files of silero-vad 6.2.3 this module runs, with their sha256."""

_INSTALL_HINT = (
    f"install it with  pip install --no-deps {DISTRIBUTION}=={DISTRIBUTION_VERSION}  "
    "(only its ONNX files are used: emovox needs neither torchaudio nor another torch)"
)
_GRAPHS = {
    # graph kind: (inputs with their types, outputs in the order run() asks for them)
    "chunk": (
        {"input": "tensor(float)", "state": "tensor(float)", "sr": "tensor(int64)"},
        ["output", "stateN"],
    ),
    "sequence": (
        {"input": "tensor(float)", "h": "tensor(float)", "c": "tensor(float)"},
        ["speech_probs", "hn", "cn"],
    ),
}
_SR = np.array(SAMPLE_RATE, dtype=np.int64)

State = tuple[np.ndarray, ...]


def model_path(name: str = SEQUENCE_MODEL) -> Path:
    """A packaged silero-vad model file (checked by sha256), or :class:`ModelError` saying
    what to install."""
    if name not in PACKAGED:
        raise ParameterError(f"Unknown silero-vad model '{name}'; known: {sorted(PACKAGED)}.")
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            f"The voice activity detector needs '{DISTRIBUTION}': {_INSTALL_HINT}."
        ) from None
    for file in distribution.files or ():
        if file.as_posix() == f"silero_vad/data/{name}":
            path = Path(str(file.locate()))
            if path.is_file():
                if hashlib.sha256(path.read_bytes()).hexdigest() != PACKAGED[name]:
                    raise ModelError(
                        f"'{path}' is not the {name} of {DISTRIBUTION} {DISTRIBUTION_VERSION} "
                        f"(its sha256 differs): {_INSTALL_HINT}.",
                        source=str(path),
                    )
                return path
    raise ModelError(
        f"'{DISTRIBUTION}' {distribution.version} is installed but holds no "
        f"'silero_vad/data/{name}': {_INSTALL_HINT}."
    )


class SileroVad:
    """One silero ONNX session; safe to share between threads (state is per :class:`VadStream`).

    ``path``: a silero v5/v6 16 kHz ONNX file, chunk or sequence graph (told apart by its
    inputs); default: the packaged sequence graph. ``threads``: onnxruntime intra-op threads.
    """

    sample_rate = SAMPLE_RATE
    frame_duration = FRAME_DURATION

    def __init__(self, path: str | Path | None = None, *, threads: int = 1) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ParameterError(f"threads must be a positive integer, got {threads!r}.")
        path = model_path() if path is None else Path(path)
        if not path.is_file():
            raise ModelError(f"No VAD model file at '{path}'.", source=str(path))
        self.path = path
        self.threads = threads
        self._session, self.graph = _open(path, threads)
        self._outputs = _GRAPHS[self.graph][1]

    def __repr__(self) -> str:
        return f"SileroVad('{self.path}', threads={self.threads}, graph='{self.graph}')"

    def stream(self) -> VadStream:
        """A fresh stream (zero state and context) for one signal or microphone."""
        return VadStream(self)

    def probabilities(self, signal: np.ndarray) -> np.ndarray:
        """Speech probability (float32) of each 512-sample chunk of a mono 16 kHz ``signal``:
        ``ceil(len(signal) / 512)`` values, the last chunk zero-padded."""
        stream = self.stream()
        return np.concatenate([stream.process(signal), stream.flush()])

    def initial_state(self) -> State:
        """The recurrent state before the first chunk (zeros, shaped for this graph)."""
        if self.graph == "chunk":
            return (np.zeros((2, 1, 128), dtype=np.float32),)
        return (np.zeros((1, 1, 128), dtype=np.float32),) * 2

    def run(self, windows: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """Probabilities of consecutive ``windows`` (n, 576) from ``state``, and the next state."""
        probs = np.empty(len(windows), dtype=np.float32)
        if self.graph == "chunk":
            (recurrent,) = state
            for index in range(len(windows)):
                output, recurrent = self._session.run(
                    self._outputs,
                    {
                        "input": np.ascontiguousarray(windows[index : index + 1]),
                        "state": recurrent,
                        "sr": _SR,
                    },
                )
                probs[index] = output[0, 0]
            return probs, (recurrent,)
        h, c = state
        for first in range(0, len(windows), MAX_CHUNKS_PER_CALL):
            block = np.ascontiguousarray(windows[first : first + MAX_CHUNKS_PER_CALL])
            probs[first : first + len(block)], h, c = self._session.run(
                self._outputs, {"input": block, "h": h, "c": c}
            )
        return probs, (h, c)


def _open(path: Path, threads: int) -> tuple[onnxruntime.InferenceSession, str]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime raises its own untyped errors
        raise ModelError(
            f"Cannot load '{path}' as an ONNX model: {error}", source=str(path)
        ) from error
    inputs = {i.name: i.type for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    for graph, (expected_inputs, expected_outputs) in _GRAPHS.items():
        if inputs == expected_inputs and outputs == expected_outputs:
            return session, graph
    raise ModelError(
        f"'{path}' is not a silero v5/v6 VAD model (inputs {sorted(inputs)}, outputs "
        f"{outputs}); use silero-vad's {CHUNK_MODEL} or {SEQUENCE_MODEL}.",
        source=str(path),
    )


class VadStream:
    """Block-by-block inference for one signal: :meth:`process` any number of blocks, then
    :meth:`flush`; the probabilities are those of :meth:`SileroVad.probabilities` on the
    concatenated blocks. Not for use by several threads at once (give each its own)."""

    def __init__(self, vad: SileroVad) -> None:
        self._vad = vad
        self._reset()

    def _reset(self) -> None:
        self._state = self._vad.initial_state()
        # The context (last CONTEXT samples seen) followed by samples waiting for a full chunk.
        self._buffer = np.zeros(CONTEXT, dtype=np.float32)
        self.frames = 0
        """Probabilities returned so far; frame ``i`` covers ``[i, i+1) * FRAME_DURATION`` s."""

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed a mono 16 kHz block (any length); returns one probability per chunk completed."""
        block = _as_signal(block)
        buffer = np.concatenate([self._buffer, block]) if block.size else self._buffer
        count = (buffer.size - CONTEXT) // CHUNK
        if count == 0:
            self._buffer = buffer
            return np.empty(0, dtype=np.float32)
        # Row i: the CONTEXT samples before chunk i, then chunk i (a strided view, no copy).
        windows = np.lib.stride_tricks.as_strided(
            buffer,
            shape=(count, CONTEXT + CHUNK),
            strides=(CHUNK * buffer.strides[0], buffer.strides[0]),
            writeable=False,
        )
        probs, self._state = self._vad.run(windows, self._state)
        self._buffer = buffer[count * CHUNK :].copy()
        self.frames += count
        return probs

    def flush(self) -> np.ndarray:
        """Zero-pad the samples still waiting (if any) to a chunk and return its probability
        (0 or 1 value); the stream is then fresh again, ready for the next signal."""
        waiting = self._buffer.size - CONTEXT
        if waiting:
            probs = self.process(np.zeros(CHUNK - waiting, dtype=np.float32))
        else:
            probs = np.empty(0, dtype=np.float32)
        self._reset()
        return probs


def _as_signal(signal: np.ndarray) -> np.ndarray:
    array = np.asarray(signal)
    if array.ndim != 1:
        raise ParameterError(f"Expected a mono 1-D signal, got an array of shape {array.shape}.")
    if not np.issubdtype(array.dtype, np.floating):
        raise ParameterError(
            f"Expected floating-point samples in [-1, 1], got dtype {array.dtype} "
            "(divide 16-bit PCM by 32768)."
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.all(np.isfinite(array)):
        raise AudioError("The signal contains NaN or infinite samples.")
    return array


_shared: SileroVad | None = None
_shared_lock = threading.Lock()


def shared_vad() -> SileroVad:
    """The process-wide :class:`SileroVad` (packaged sequence graph, 1 thread), loaded once on
    first use; thread-safe."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = SileroVad()
    return _shared
