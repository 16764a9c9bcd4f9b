"""Small PNG charts for the Dagster UI (markdown metadata embeds them as data URLs)."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # no display: render to memory
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _markdown_image(figure, title: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    return f"![{title}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()})"


def lr_curves_markdown(curves: pd.DataFrame) -> str:
    """Both densities over the distance grid, as a markdown image."""
    figure, axis = plt.subplots(figsize=(6, 3))
    axis.plot(curves["x"], curves["numerator"], label="same cluster (numerator)")
    axis.plot(curves["x"], curves["denominator"], label="different clusters (denominator)")
    axis.set_xlabel("distance")
    axis.set_ylabel("density")
    axis.legend()
    return _markdown_image(figure, "LR curves")


def bar_chart_markdown(counts: Mapping[object, int], title: str, xlabel: str) -> str:
    """One bar per key (e.g. clients or donors per cluster), as a markdown image."""
    figure, axis = plt.subplots(figsize=(6, 2.5))
    axis.bar([str(k) for k in counts], list(counts.values()))
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    return _markdown_image(figure, title)


def paired_bar_chart_markdown(
    counts: Mapping[object, int], other: Mapping[object, int], labels: tuple[str, str], title: str, xlabel: str
) -> str:
    """Two bars per key (e.g. donors per cluster on two days), as a markdown image."""
    keys = sorted({*counts, *other}, key=lambda key: (str(type(key)), key))
    positions = range(len(keys))
    figure, axis = plt.subplots(figsize=(6, 2.5))
    axis.bar([p - 0.2 for p in positions], [counts.get(k, 0) for k in keys], width=0.4, label=labels[0])
    axis.bar([p + 0.2 for p in positions], [other.get(k, 0) for k in keys], width=0.4, label=labels[1])
    axis.set_xticks(list(positions), [str(k) for k in keys])
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    axis.legend()
    return _markdown_image(figure, title)


def log_ratio_curves_markdown(curves: Mapping[str, pd.DataFrame], title: str) -> str:
    """ln(numerator / denominator) over the distance grid of each labelled LR-curve table."""
    figure, axis = plt.subplots(figsize=(6, 3))
    for label, table in curves.items():
        positive = (table["numerator"] > 0) & (table["denominator"] > 0)
        kept = table[positive]
        axis.plot(kept["x"], np.log(kept["numerator"] / kept["denominator"]), label=label)
    axis.axhline(0, color="grey", linewidth=0.5)
    axis.set_xlabel("distance")
    axis.set_ylabel("log likelihood ratio")
    axis.set_title(title)
    axis.legend()
    return _markdown_image(figure, title)


def histogram_markdown(values, bins: int, title: str, xlabel: str) -> str:
    figure, axis = plt.subplots(figsize=(6, 2.5))
    axis.hist(values, bins=bins)
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    return _markdown_image(figure, title)
