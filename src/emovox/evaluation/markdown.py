"""Render reports as Markdown and keep generated sections of docs up to date."""

from __future__ import annotations

import re
from pathlib import Path


def pct(summary: dict, key: str, *, spread: bool = True) -> str:
    """``"38.9 ± 4.1"`` (percent, mean ± std over folds), or ``"38.9"`` without spread.

    The std is whatever ``summary`` holds: :func:`~emovox.evaluation.metrics.summarize_folds`
    gives the sample standard deviation over folds (ddof=1).
    """
    mean = f"{100 * summary[key]['mean']:.1f}"
    return f"{mean} ± {100 * summary[key]['std']:.1f}" if spread else mean


def replace_section(path: Path, name: str, body: str) -> None:
    """Replace the text between ``<!-- name:start -->`` and ``<!-- name:end -->`` in ``path``.

    The section is appended when the markers are absent, so scripts can each own one part
    of a shared document such as ``docs/results.md``.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + ("\n\n" if text else "") + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
