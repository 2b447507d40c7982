"""Small SVG charts drawn on the server: no chart library, no script (the CSP allows neither inline).

Colours come from classes styled in ``static/ops.css``; every chart has a title and a text label per bar,
so it reads without colour and in a screen reader.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from qualifica.staff.stats import Day

ROW = 26
LABEL_WIDTH = 150
BAR_WIDTH = 260
VALUE_WIDTH = 50


def _svg(width: int, height: int, title: str, body: str) -> Markup:
    # Safe: numbers are ours and every piece of text was passed through escape() before reaching here.
    return Markup(  # noqa: S704
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _bar_row(index: int, label: str, value: int, length: int, tone: str) -> str:
    y = index * ROW
    return (
        f'<text class="label" x="{LABEL_WIDTH - 8}" y="{y + 17}" text-anchor="end">{escape(label)}</text>'
        f'<rect class="bar {escape(tone)}" x="{LABEL_WIDTH}" y="{y + 4}" width="{length}" '
        f'height="{ROW - 8}" rx="3"/>'
        f'<text class="value" x="{LABEL_WIDTH + length + 6}" y="{y + 17}">{value}</text>'
    )


def hbars(title: str, items: Sequence[tuple[str, int, str]]) -> Markup:
    """One horizontal bar per (label, value, tone), scaled to the largest value."""
    if not items:
        items = [("nenhum", 0, "neutral")]
    top = max(value for _, value, _ in items) or 1
    body = "".join(
        _bar_row(index, label, value, round(BAR_WIDTH * value / top), tone)
        for index, (label, value, tone) in enumerate(items)
    )
    return _svg(LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH, ROW * len(items), title, body)


def counted(title: str, counts: Sequence[tuple[str, int]], tone: str) -> Markup:
    return hbars(title, [(label, value, tone) for label, value in counts])


def funnel_bars(title: str, started: int, completed: int, cancelled: int, failed: int) -> Markup:
    return hbars(
        title,
        [
            ("Iniciadas", started, "started"),
            ("Concluídas", completed, "completed"),
            ("Canceladas", cancelled, "cancelled"),
            ("Com erro", failed, "failed"),
        ],
    )


def daily_columns(title: str, days: Sequence[Day]) -> Markup:
    """Started (light) and completed (green) side by side for each day."""
    height, base, column, gap = 180, 150, 16, 18
    top = max([day.started for day in days] + [day.completed for day in days] + [1])
    parts = [f'<line class="axis" x1="0" y1="{base}" x2="{len(days) * (2 * column + gap)}" y2="{base}"/>']
    for index, day in enumerate(days):
        x = index * (2 * column + gap) + gap // 2
        for offset, (value, tone) in enumerate(((day.started, "started"), (day.completed, "completed"))):
            bar = round((base - 20) * value / top)
            left = x + offset * column
            parts.append(
                f'<rect class="bar {tone}" x="{left}" y="{base - bar}" width="{column - 2}" height="{bar}"/>'
                f'<text class="value small" x="{left + column // 2 - 1}" y="{base - bar - 4}" '
                f'text-anchor="middle">{value}</text>'
            )
        parts.append(
            f'<text class="label small" x="{x + column}" y="{base + 18}" text-anchor="middle">'
            f"{day.day:%d/%m}</text>"
        )
    return _svg(len(days) * (2 * column + gap), height, title, "".join(parts))
