"""Warm latency of the Whisper embedding per 3 s clip on ONE thread, variant by variant.

Each variant runs the whole predict path (log-mel, encoder, mean+std pooling of layers
3-6) on a 3 s clip; the table gives the median and best of ``--repeats`` warm runs and
the cosine similarity of its embedding to the float32 one over ``--clips`` real clips
(RAVDESS from ../shared/data or $EMOVOX_DATA; synthetic tones when absent).

    python benchmarks/whisper_encoder_speed.py [--repeats 20] [--clips 24] [--onnx]

``--onnx`` adds onnxruntime rows; exporting needs the ``onnx`` package, which emovox does
not depend on (PYTHONPATH=/path/with/onnx works).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from emovox.features.whisper import WhisperEmbedding, load_encoder, locate, log_mel, pool
from emovox.features.whisper.encoder import WhisperEncoder

CLIP_SECONDS = 3.0
SR = 16_000
LAYERS = (3, 4, 5, 6)


def clips(n: int) -> list[np.ndarray]:
    """``n`` real 3 s speech clips (cropped or zero-padded), or synthetic ones."""
    root = Path(os.environ.get("EMOVOX_DATA", Path(__file__).parents[1].parent / "shared/data"))
    files = sorted((root / "ravdess").glob("Actor_*/*.*"))[:: max(1, 1200 // max(n, 1))][:n]
    out = []
    if files:
        from emovox.audio import load_audio

        for path in files:
            signal = load_audio(path)
            start = max(0, (signal.size - int(CLIP_SECONDS * SR)) // 2)
            signal = signal[start : start + int(CLIP_SECONDS * SR)]
            out.append(np.pad(signal, (0, int(CLIP_SECONDS * SR) - signal.size)))
        return out
    rng = np.random.default_rng(0)
    t = np.arange(int(CLIP_SECONDS * SR)) / SR
    for i in range(n):
        f0 = 110 + 15 * i
        tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))
        out.append((0.2 * tone + 0.01 * rng.standard_normal(t.size)).astype(np.float32))
    return out


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median, best) milliseconds of ``repeats`` warm calls."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times), min(times)


def torch_path(
    encoder: WhisperEncoder, *, depth: int, grad_mode: str = "inference", bf16: bool = False
) -> Callable[[np.ndarray], np.ndarray]:
    """The predict path around ``encoder`` with the given grad mode / autocast."""

    def run(signal: np.ndarray) -> np.ndarray:
        mode = torch.inference_mode() if grad_mode == "inference" else torch.no_grad()
        cast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
        with mode, cast:
            states = encoder(torch.from_numpy(log_mel(signal))[None], num_layers=depth)
            frames = torch.stack([states[i][0] for i in LAYERS if i <= depth]).float().numpy()
        return pool(frames)

    return run


def naive_int8(encoder: WhisperEncoder, *, per_channel: bool = False) -> WhisperEncoder:
    """``quantize_dynamic`` on every Linear layer, torch's default engine."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    spec = {torch.nn.Linear: per_channel_dynamic_qconfig} if per_channel else {torch.nn.Linear}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(encoder, spec, dtype=torch.qint8)


def onnx_paths(encoder: WhisperEncoder, folder: Path) -> dict[str, Callable]:
    """onnxruntime (1 thread) on the exported encoder, float32 and dynamic int8."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Stacked(torch.nn.Module):
        def __init__(self, inner: WhisperEncoder) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, mel: torch.Tensor) -> torch.Tensor:
            states = self.inner(mel)
            return torch.stack([states[i][0] for i in LAYERS])

    fp32, int8 = folder / "encoder.onnx", folder / "encoder.int8.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Stacked(encoder),
            (torch.zeros(1, 80, 300),),
            str(fp32),
            dynamo=False,
            input_names=["mel"],
            output_names=["states"],
            dynamic_axes={"mel": {2: "frames"}, "states": {1: "steps"}},
            opset_version=17,
        )
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    paths = {}
    for label, file in (("onnxruntime fp32", fp32), ("onnxruntime int8 dynamic", int8)):
        session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])

        def run(signal: np.ndarray, session: ort.InferenceSession = session) -> np.ndarray:
            return pool(session.run(None, {"mel": log_mel(signal)[None]})[0])

        paths[label] = run
    return paths


def ct2_paths(files) -> dict[str, Callable]:
    """ctranslate2's own encoder (last layer only, so its cosine is not comparable)."""
    import ctranslate2

    blobs = {"model.bin": files.read_bytes()}
    for folder in files.data_dirs:
        for name in ("config.json", "vocabulary.txt", "vocabulary.json", "tokenizer.json"):
            if (folder / name).is_file():
                blobs[name] = (folder / name).read_bytes()
    paths = {}
    for compute in ("float32", "int8"):
        model = ctranslate2.models.Whisper(
            "whisper", device="cpu", compute_type=compute, intra_threads=1, files=blobs
        )

        def run(signal: np.ndarray, model=model) -> np.ndarray:
            view = ctranslate2.StorageView.from_array(log_mel(signal)[None])
            return pool(np.asarray(model.encode(view, to_cpu=True)))

        paths[f"ctranslate2 {compute} (last layer only)"] = run
    return paths


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--onnx", action="store_true", help="add onnxruntime rows")
    parser.add_argument("--ct2", action="store_true", help="add ctranslate2 rows")
    args = parser.parse_args()

    torch.set_num_threads(1)
    signals = clips(args.clips)
    fp32 = load_encoder("base", quantize="none")
    variants: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "torch fp32, no_grad": torch_path(fp32, depth=6, grad_mode="no_grad"),
        "torch fp32, inference_mode": torch_path(fp32, depth=6),
        "torch fp32, stop after layer 4 (layers 3-4)": torch_path(fp32, depth=4),
        "torch bf16 autocast": torch_path(fp32, depth=6, bf16=True),
        "torch int8 dynamic, all Linear, per-tensor": torch_path(naive_int8(fp32), depth=6),
        "torch int8 dynamic, all Linear, per-channel": torch_path(
            naive_int8(fp32, per_channel=True), depth=6
        ),
        "WhisperEmbedding(quantize='none')": WhisperEmbedding(quantize="none"),
        "WhisperEmbedding() default int8": WhisperEmbedding(),
        "WhisperEmbedding(layers=[3, 4]) int8": WhisperEmbedding(layers=[3, 4]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        if args.onnx:
            try:
                variants.update(onnx_paths(fp32, Path(tmp)))
            except Exception as exc:
                print(f"(onnx rows skipped: {exc})")
        if args.ct2:
            variants.update(ct2_paths(locate("base")))
        reference = [variants["torch fp32, inference_mode"](s) for s in signals]
        print(
            f"Whisper base encoder, {CLIP_SECONDS:.0f} s clip, 1 thread, "
            f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
            f"{len(signals)} clips for cosine"
        )
        header = (
            f"{'variant':48s} {'median ms':>10s} {'best ms':>8s} {'cos min':>8s} {'cos mean':>9s}"
        )
        print(header)
        print("-" * len(header))
        for label, run in variants.items():
            median, best = timed(lambda run=run: run(signals[0]), args.repeats)
            embeddings = [run(s) for s in signals]
            if embeddings[0].shape == reference[0].shape:
                cosines = [cosine(a, b) for a, b in zip(embeddings, reference, strict=True)]
            else:  # fewer layers: compare with the same layers of the reference
                n = embeddings[0].size
                cosines = [cosine(a, b[:n]) for a, b in zip(embeddings, reference, strict=True)]
            if label.startswith("ctranslate2"):
                cosines = [float("nan")]
            print(
                f"{label:48s} {median:10.1f} {best:8.1f} "
                f"{min(cosines):8.4f} {statistics.mean(cosines):7.4f}"
            )


if __name__ == "__main__":
    main()
