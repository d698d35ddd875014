"""Inline SVG charts for the quality page: no plotting library, no image round trip, and
text that stays selectable. Labels are escaped here; the result is safe to embed."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

__all__ = ["grouped_bars", "intervals", "lines"]

W, H, LEFT, BOTTOM, TOP = 640, 220, 44, 36, 14
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")


def _frame(body: list[str], title: str, y_max: float, legend: Sequence[str]) -> Markup:
    plot_h = H - BOTTOM - TOP
    parts = [
        f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{W - 8}" y2="{TOP + plot_h}" class="axis"/>',
    ]
    for i in range(5):
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - 8}" y2="{y:.1f}" class="grid"/>')
        value = y_max * i / 4
        label = f"{value:.2f}" if y_max <= 1.0 else f"{value:.0f}"
        parts.append(
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" class="tick" text-anchor="end">{label}</text>'
        )
    for i, name in enumerate(legend):
        x = LEFT + 8 + i * 110
        parts.append(
            f'<rect x="{x}" y="2" width="10" height="10" fill="{COLOURS[i % len(COLOURS)]}"/>'
        )
        parts.append(f'<text x="{x + 14}" y="11" class="tick">{escape(name)}</text>')
    return Markup("".join([*parts, *body, "</svg>"]))  # every label was escaped above


def _x_labels(labels: Sequence[str], xs: Sequence[float], every: int = 1) -> list[str]:
    return [
        f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" class="tick" text-anchor="middle">{escape(label)}</text>'
        for i, (label, x) in enumerate(zip(labels, xs, strict=True))
        if i % every == 0
    ]


def lines(labels: Sequence[str], series: Mapping[str, Sequence[float]], title: str) -> Markup:
    """One polyline per series over shared x labels (alerts per hour by policy)."""
    top = max([1.0, *(v for values in series.values() for v in values)])
    y_max = float(math.ceil(top / 4) * 4)  # whole-number ticks for counts
    plot_w, plot_h = W - LEFT - 16, H - BOTTOM - TOP
    step = plot_w / max(1, len(labels) - 1)
    xs = [LEFT + 4 + i * step for i in range(len(labels))]
    body = _x_labels(labels, xs, every=max(1, len(labels) // 8))
    for i, values in enumerate(series.values()):
        points = " ".join(
            f"{x:.1f},{TOP + plot_h - plot_h * v / y_max:.1f}"
            for x, v in zip(xs, values, strict=True)
        )
        body.append(
            f'<polyline points="{points}" fill="none" stroke="{COLOURS[i % len(COLOURS)]}" stroke-width="2"/>'
        )
    return _frame(body, title, y_max, list(series))


def grouped_bars(
    labels: Sequence[str], series: Mapping[str, Sequence[float]], title: str
) -> Markup:
    """Side-by-side bars per label (live against validation score shares)."""
    top = max([0.04, *(v for values in series.values() for v in values)])
    y_max = math.ceil(top / 0.04) * 0.04  # ticks on round shares
    plot_w, plot_h = W - LEFT - 16, H - BOTTOM - TOP
    slot = plot_w / max(1, len(labels))
    width = slot * 0.8 / max(1, len(series))
    body = _x_labels(labels, [LEFT + slot * (i + 0.5) for i in range(len(labels))])
    for j, values in enumerate(series.values()):
        for i, v in enumerate(values):
            x = LEFT + slot * i + slot * 0.1 + width * j
            h = plot_h * v / y_max
            body.append(
                f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{width:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[j % len(COLOURS)]}"><title>{v:.3f}</title></rect>'
            )
    return _frame(body, title, y_max, list(series))


def intervals(rows: Sequence[tuple[str, float, float, float]], title: str) -> Markup:
    """A dot and whisker per row (label, estimate, low, high) on a 0-1 scale."""
    plot_w, plot_h = W - LEFT - 16, H - BOTTOM - TOP
    slot = plot_w / max(1, len(rows))
    body = _x_labels([r[0] for r in rows], [LEFT + slot * (i + 0.5) for i in range(len(rows))])
    for i, (_, p, lo, hi) in enumerate(rows):
        x = LEFT + slot * (i + 0.5)

        def y(v: float) -> float:
            return TOP + plot_h - plot_h * v

        body.append(
            f'<line x1="{x:.1f}" y1="{y(lo):.1f}" x2="{x:.1f}" y2="{y(hi):.1f}" stroke="{COLOURS[0]}" stroke-width="2"/>'
        )
        body.append(
            f'<circle cx="{x:.1f}" cy="{y(p):.1f}" r="4" fill="{COLOURS[0]}"><title>{p:.2f} [{lo:.2f}, {hi:.2f}]</title></circle>'
        )
    return _frame(body, title, 1.0, [])
