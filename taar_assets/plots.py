"""Small PNG charts for the Dagster UI (markdown metadata embeds them as data URLs)."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # no display: render to memory
import matplotlib.pyplot as plt  # noqa: E402
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
