"""``watchlist eval --plot``: precision and recall against the threshold, one panel per topic.

Drawn with matplotlib's Agg backend (a PNG file, no display). Each panel shows the combined
figures (rules OR examples, solid), the examples alone (dashed) and the rules alone (dotted, flat:
they do not depend on the threshold), with the configured threshold marked. A topic without
examples gets its rules' figures and says so.
"""

from __future__ import annotations

import math
from pathlib import Path

from monitors.evaluation import Report

PRECISION_COLOR = "#1f77b4"
RECALL_COLOR = "#d62728"


def plot_report(report: Report, path: Path) -> None:
    """Write the sweep of every topic of ``report`` to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(report.evals)
    columns = min(3, count)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.6 * columns, 3.6 * rows), squeeze=False, sharey=True
    )
    for index, evaluation in enumerate(report.evals):
        ax = axes[index // columns][index % columns]
        rules = evaluation.modes["rules"]
        ax.set_title(f"{evaluation.topic} ({evaluation.positives} positives)", fontsize=10)
        ax.set_ylim(-0.02, 1.05)
        ax.grid(alpha=0.3)
        if not evaluation.sweep:
            ax.axhline(
                rules.precision, color=PRECISION_COLOR, linestyle=":", label="rules precision"
            )
            ax.axhline(rules.recall, color=RECALL_COLOR, linestyle=":", label="rules recall")
            ax.text(
                0.5, 0.5, "no examples: rules only", ha="center", transform=ax.transAxes, fontsize=9
            )
            ax.set_xticks([])
            ax.legend(fontsize=7, loc="lower left")
            continue
        thresholds = [p.threshold for p in evaluation.sweep]
        for mode, style, alpha in (("combined", "-", 1.0), ("examples", "--", 0.6)):
            for figure_name, color in (("precision", PRECISION_COLOR), ("recall", RECALL_COLOR)):
                values = [getattr(getattr(p, mode), figure_name) for p in evaluation.sweep]
                ax.plot(
                    thresholds,
                    values,
                    color=color,
                    linestyle=style,
                    alpha=alpha,
                    label=f"{figure_name} ({mode})",
                )
        ax.axhline(rules.precision, color=PRECISION_COLOR, linestyle=":", alpha=0.6)
        ax.axhline(
            rules.recall, color=RECALL_COLOR, linestyle=":", alpha=0.6, label="rules alone (dotted)"
        )
        assert evaluation.threshold is not None
        ax.axvline(evaluation.threshold, color="black", linewidth=1)
        right_half = evaluation.threshold > (thresholds[0] + thresholds[-1]) / 2
        ax.annotate(
            f"configured {evaluation.threshold:.2f}",
            (evaluation.threshold, 0.55),
            xytext=(-3 if right_half else 3, 0),
            textcoords="offset points",
            ha="right" if right_half else "left",
            fontsize=8,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
        ax.set_xlabel("semantic threshold")
        ax.legend(fontsize=7, loc="lower left")
    for row in axes:
        row[0].set_ylabel("precision / recall")
    for index in range(count, rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
