"""ROC and PR curves and score histograms by class (matplotlib, Agg canvas, no global state)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np


def _figure(width: float = 5.0, height: float = 4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def save_roc(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], path: Path, title: str = "ROC") -> None:
    """``curves``: name → (fpr, tpr, auroc), one line each, plus the chance diagonal."""
    fig, ax = _figure()
    for name, (fpr, tpr, area) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUROC {area:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)


def save_pr(precision: np.ndarray, recall: np.ndarray, area: float, base_rate: float, path: Path) -> None:
    """Precision–recall curve (anomalies positive) with the base rate as the chance line."""
    fig, ax = _figure()
    ax.step(recall, precision, where="post", label=f"AUPR-out {area:.3f}")
    ax.axhline(base_rate, color="grey", linestyle=":", linewidth=1, label=f"chance {base_rate:.3f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (anomaly positive)", xlim=(0, 1),
           ylim=(0, 1.01))
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def save_histogram(scores: np.ndarray, labels: np.ndarray, threshold: float | None, path: Path) -> None:
    """Score histograms of the normal and anomalous inputs on shared bins, the threshold as a line."""
    fig, ax = _figure()
    bins = np.histogram_bin_edges(scores, bins=40)
    ax.hist(scores[labels == 0], bins=bins, alpha=0.6, density=True, label=f"normal ({int((labels == 0).sum())})")
    ax.hist(scores[labels == 1], bins=bins, alpha=0.6, density=True, label=f"anomaly ({int((labels == 1).sum())})")
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1, label="threshold")
    ax.set(xlabel="score (higher = more anomalous)", ylabel="density", title="Scores by class")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def save_frame_timelines(sources: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], path: Path,
                         limit: int = 12) -> None:
    """Frame score against frame number, one panel per footage source (the first ``limit``), with the
    anomalous frames shaded: the figure of video anomaly papers. ``sources``: (name, frame numbers [F],
    scores [F], labels [F] 0/1)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = sources[:limit]
    cols = 2 if len(shown) > 1 else 1
    rows = (len(shown) + cols - 1) // cols
    fig = Figure(figsize=(5.0 * cols, 1.8 * rows + 0.4), dpi=100)
    FigureCanvasAgg(fig)
    for k, (name, frames, scores, labels) in enumerate(shown):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.plot(frames, scores, linewidth=1)
        top = float(np.max(scores)) if len(scores) else 1.0
        ax.fill_between(frames, 0, 1, where=labels.astype(bool), step="mid", color="tab:red", alpha=0.2,
                        transform=ax.get_xaxis_transform(), label="anomalous frames")
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("frame", fontsize=7)
        ax.set_ylabel("frame score", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.set_ylim(min(0.0, float(np.min(scores))) if len(scores) else 0.0, top * 1.05 if top > 0 else 1.0)
        if k == 0:
            ax.legend(fontsize=6, loc="upper left")
    more = f" (first {limit} of {len(sources)} sources)" if len(sources) > limit else ""
    fig.suptitle(f"Frame scores per source{more}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


__all__ = ["save_frame_timelines", "save_histogram", "save_pr", "save_roc"]
