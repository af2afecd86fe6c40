"""Shared fixtures: where the real corpora are, and small synthetic audio files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_data_root() -> Path | None:
    """The folder holding the shared corpora: $EMOVOX_DATA, else ../shared/data beside the repo."""
    env = os.environ.get("EMOVOX_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = find_data_root()
    if root is None:
        pytest.skip("real corpora not found: set EMOVOX_DATA or place them in ../shared/data")
    return root


@pytest.fixture(scope="session")
def corpus_root(data_root: Path):
    """``corpus_root("ravdess")`` is that corpus' folder, or the test is skipped."""

    def find(name: str) -> Path:
        path = data_root / name
        if not path.is_dir():
            pytest.skip(f"corpus '{name}' not found under {data_root}")
        return path

    return find


def make_tone(
    *, sr: int = 16_000, duration: float = 1.0, freq: float = 220.0, seed: int = 0
) -> np.ndarray:
    """A voiced-sounding test signal: a harmonic tone with a little noise, float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * duration)) / sr
    tone = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, 6))
    signal = 0.3 * tone / np.max(np.abs(tone)) + 0.01 * rng.standard_normal(t.size)
    return signal.astype(np.float32)


def write_tone(
    path: Path,
    *,
    sr: int = 16_000,
    duration: float = 1.0,
    freq: float = 220.0,
    channels: int = 1,
    seed: int = 0,
) -> Path:
    """Write :func:`make_tone` to ``path`` (format from the extension), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    signal = make_tone(sr=sr, duration=duration, freq=freq, seed=seed)
    if channels > 1:
        signal = np.stack([signal] * channels, axis=1)
    sf.write(path, signal, sr)
    return path
