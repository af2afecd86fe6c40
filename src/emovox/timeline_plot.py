"""A picture of emotion over time: what ``emovox timeline --plot`` draws.

For each channel of a timeline (:mod:`emovox.timeline`), two strips share the time axis:

- on top, the waveform's outline (from an :class:`~emovox.timeline.Envelope`, when given)
  in grey, with every analysed stretch of speech shaded in the colour of its emotion and,
  where there is room, the emotion's name written over it: what was said, when, how;
- below, the probability of every class in each window, stacked to 1, in the same
  colours: how sure the model was, and what it hesitated between.

Silence stays blank in both. Colours are fixed per emotion (anger red, sad blue, happy
yellow, ...) so pictures of different recordings read alike. Drawn with matplotlib's Agg
canvas directly: no pyplot state, no display needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emovox.segmentation.windows import merge_runs, partition

if TYPE_CHECKING:
    import pandas as pd

    from emovox.timeline import Envelope

COLORS = {
    "anger": "#d62728",
    "fear": "#8e5bb5",
    "disgust": "#6b8e23",
    "happy": "#f2c14e",
    "sad": "#2f6db5",
    "surprise": "#f28e2b",
    "neutral": "#a5a5a5",
    "calm": "#4fb3bf",
    "boredom": "#8c6d5a",
}
"""One colour per emotion; other classes take matplotlib's tab10 colours."""


def class_colors(labels: list[str]) -> dict[str, str]:
    """A colour for each label: :data:`COLORS`, else a tab10 colour not used yet."""
    spare = [
        c
        for c in ("#17becf", "#bcbd22", "#e377c2", "#7f7f7f", "#8c564b", "#1f77b4", "#2ca02c")
        if c not in COLORS.values()
    ]
    colors = {}
    for label in labels:
        colors[label] = COLORS.get(label) or spare[len(colors) % len(spare)]
    return colors


def _clock(seconds: float, _position: object = None) -> str:
    seconds = max(0.0, float(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 1:
        return f"{int(hours)}:{int(minutes):02d}:{int(secs):02d}"
    return f"{int(minutes)}:{secs:04.1f}" if seconds < 60 else f"{int(minutes)}:{int(secs):02d}"


def plot_timeline(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    envelope: Envelope | None = None,
    title: str | None = None,
    width: float = 10.0,
    dpi: int = 100,
) -> Path:
    """Draw ``frame`` (a timeline, merged or not) into ``path`` (PNG, SVG or PDF by its
    extension); returns the path. ``envelope``: the waveform outline collected while the
    timeline ran (``channels`` in the same order as ``frame.attrs["channels"]``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    labels = [c[2:] for c in frame.columns if c.startswith("p_")]
    colors = class_colors(labels)
    names = list(frame.attrs.get("channels") or sorted(set(frame["channel"])) or ["mix"])
    duration = float(frame.attrs.get("duration") or 0.0)
    if not frame.empty:
        duration = max(duration, float(frame.index.get_level_values("end").max()))
    if envelope is not None:
        duration = max(duration, envelope.samples / 16_000)
    duration = max(duration, 1.0)

    figure = Figure(figsize=(width, 0.6 + 2.2 * len(names)), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(2 * len(names), 1, height_ratios=[1, 2.2] * len(names))
    axes_prob = None
    for c, name in enumerate(names):
        ax_wave = figure.add_subplot(grid[2 * c], sharex=axes_prob)
        ax_prob = figure.add_subplot(grid[2 * c + 1], sharex=ax_wave)
        axes_prob = ax_prob
        part = frame[frame["channel"] == name]
        starts, ends = partition(
            part.index.get_level_values("start").to_numpy(),
            part.index.get_level_values("end").to_numpy(),
        )
        _draw_wave(ax_wave, envelope, c, part, starts, ends, colors)
        _draw_probabilities(ax_prob, part, starts, ends, labels, colors)
        ax_wave.set_ylabel(name if len(names) > 1 or name != "mix" else "audio", fontsize=9)
        ax_prob.set_ylabel("probability", fontsize=9)
        ax_wave.tick_params(labelbottom=False, labelsize=8)
        ax_prob.tick_params(labelbottom=c == len(names) - 1, labelsize=8)
        ax_prob.set_xlim(0, duration)
        ax_prob.xaxis.set_major_formatter(FuncFormatter(_clock))
        if part.empty:
            ax_prob.text(
                0.5,
                0.5,
                "no speech found",
                transform=ax_prob.transAxes,
                ha="center",
                va="center",
                color="#666666",
                fontsize=10,
            )
    if axes_prob is not None:
        axes_prob.set_xlabel("time (m:ss)" if duration < 3600 else "time (h:mm:ss)", fontsize=9)
    handles = [Patch(color=colors[k], label=k) for k in labels]
    figure.legend(
        handles=handles,
        loc="outside right upper",
        fontsize=8,
        frameon=False,
        title="emotion",
        title_fontsize=8,
    )
    if title:
        figure.suptitle(title, fontsize=10)
    path = Path(path)
    figure.savefig(path, dpi=dpi)
    return path


def _draw_wave(ax, envelope, channel, part, starts, ends, colors) -> None:
    """The waveform outline with speech shaded in the colour of its emotion."""
    top = 1.0
    if envelope is not None and envelope.samples:
        peaks = envelope.peaks
        column = peaks[:, min(channel, peaks.shape[1] - 1)]
        times = (np.arange(column.size) + 0.5) * envelope.bin_duration
        top = max(float(column.max()), 1e-3) * 1.05
        ax.fill_between(times, -column, column, color="#9a9a9a", linewidth=0)
    for start, end, label in zip(starts, ends, part["label"], strict=True):
        ax.axvspan(start, end, color=colors[label], alpha=0.45, linewidth=0)
    # Names over stretches of one emotion wide enough to hold them.
    if not part.empty:
        lim = max(float(ends.max()), 1.0)
        for i, j in merge_runs(starts, ends, part["label"].tolist(), max_gap=1.0):
            if ends[j - 1] - starts[i] > 0.06 * lim:
                ax.text(
                    (starts[i] + ends[j - 1]) / 2,
                    top * 0.62,
                    part["label"].iloc[i],
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="#202020",
                )
    ax.set_ylim(-top, top)
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


def _draw_probabilities(ax, part, starts, ends, labels, colors) -> None:
    """Class probabilities of each window, stacked to 1."""
    if not part.empty:
        widths = ends - starts
        bottom = np.zeros(len(part))
        for label in labels:
            values = part[f"p_{label}"].to_numpy()
            ax.bar(
                starts,
                values,
                width=widths,
                bottom=bottom,
                align="edge",
                color=colors[label],
                linewidth=0,
            )
            bottom += values
    ax.set_ylim(0, 1)
    ax.set_yticks([0, 0.5, 1])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
