"""Where the time of one prediction goes, on this machine: decode, voice activity, encoder.

    python benchmarks/predict_breakdown.py --data ../shared/data

Medians of ``--repeats`` warm calls on one RAVDESS clip with the bundled default model: the
decode (``load_audio``), the voice activity detector (silero-vad), the feature extractor
(Whisper encoder, fast path) and a whole ``predict`` with and without the speech check.

It runs on older checkouts too (only the extractor row), to compare code on one machine::

    git worktree add /tmp/old REV
    PYTHONPATH=/tmp/old/src python benchmarks/predict_breakdown.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path


def median_ms(call: Callable[[], object], repeats: int) -> float:
    call()  # warm
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    import emovox
    from emovox import Recognizer, load_audio

    clip = sorted((args.data / "ravdess").rglob("*.flac"))[5]
    recognizer = Recognizer.load()
    signal = load_audio(clip)
    extractor = getattr(recognizer, "extractor", None) or recognizer._extractor
    print(
        f"emovox from {Path(emovox.__file__).parent}; clip {clip.name}, "
        f"{signal.size / 16000:.2f} s; medians of {args.repeats} warm calls, ms"
    )
    print(
        f"extractor (encoder + pooling): {median_ms(lambda: extractor(signal), args.repeats):.1f}"
    )
    if not hasattr(recognizer, "check_speech"):
        return  # code from before voice activity detection
    from emovox.segmentation import speech_summary

    rows = {
        "load_audio": lambda: load_audio(clip),
        "voice activity (silero-vad)": lambda: speech_summary(signal),
        "predict(file)": lambda: recognizer.predict(clip),
    }
    for name, call in rows.items():
        print(f"{name}: {median_ms(call, args.repeats):.1f}")
    recognizer.check_speech = False
    no_check = median_ms(lambda: recognizer.predict(clip), args.repeats)
    print(f"predict(file), no speech check: {no_check:.1f}")


if __name__ == "__main__":
    main()
