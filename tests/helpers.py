"""Test helpers shared by several test modules (fixtures stay in conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import write_tone


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run ``emovox ARGS`` in this process: ``(exit code, stdout, stderr)``."""
    from emovox.interfaces import cli

    monkeypatch.setattr(sys, "argv", ["emovox", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def tone_manifest(root: Path, *, speakers: int = 4, per_label: int = 4) -> Path:
    """A manifest corpus of tones in ``root``: 'anger' a high tone, 'sad' a low one, with
    ``per_label`` one-second files per label and speaker; returns the manifest's path."""
    lines = ["path,label,speaker"]
    for s in range(speakers):
        for i in range(per_label):
            for label, freq in (("anger", 600.0), ("sad", 120.0)):
                name = f"s{s}_{label}_{i}.wav"
                write_tone(root / name, freq=freq * (1 + 0.03 * i), duration=1.0, seed=s * 10 + i)
                lines.append(f"{name},{label},spk{s}")
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest
