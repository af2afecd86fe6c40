"""Write an evaluation report: JSON, predictions and confusion matrix as CSV and PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def plot_confusion(
    confusion: list[list[int]], labels: list[str], path: Path, *, title: str
) -> None:
    """Save a row-normalised confusion matrix (rows = truth) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(confusion, dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(labels), 0.8 + 0.7 * len(labels)))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            colour = "white" if rates[i, j] > 0.5 else "black"
            ax.text(j, i, f"{rates[i, j]:.2f}", ha="center", va="center", color=colour, fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(report: dict, out_dir: Path) -> dict[str, Path]:
    """Write ``report.json``, ``predictions.csv``, ``confusion.csv`` and ``confusion.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = dict(report)
    predictions: pd.DataFrame | None = report.pop("predictions", None)
    paths = {"report": out_dir / "report.json"}
    paths["report"].write_text(json.dumps(report, indent=2) + "\n")
    if predictions is not None:
        paths["predictions"] = out_dir / "predictions.csv"
        predictions.to_csv(paths["predictions"], index=False)
    pooled = report["pooled"]
    labels = pooled["labels"]
    paths["confusion_csv"] = out_dir / "confusion.csv"
    pd.DataFrame(pooled["confusion"], index=labels, columns=labels).rename_axis(
        "true\\predicted"
    ).to_csv(paths["confusion_csv"])
    paths["confusion_png"] = out_dir / "confusion.png"
    summary = report["summary"]
    title = (
        f"{report['model']['name']} on {report['features']['name']} - {report['protocol']}\n"
        f"UAR {summary['uar']['mean']:.3f} ± {summary['uar']['std']:.3f}, "
        f"accuracy {summary['accuracy']['mean']:.3f} ± {summary['accuracy']['std']:.3f}\n"
        f"(± sample SD over {report.get('n_folds', '?')} folds)"
    )
    plot_confusion(pooled["confusion"], labels, paths["confusion_png"], title=title)
    return paths
