"""Charts as inline SVG, drawn on the server: no JavaScript, no build step,
nothing from another site (the CSP allows none of it anyway).

Each chart is an <svg role="img"> with a <title> and a <desc> that says
in words what it shows, so a screen reader gets the point; the numbers
themselves are in the tables and CSV files beside it. Colours are the
Okabe-Ito palette, told apart with colour blindness, and set as SVG
attributes because the CSP forbids inline style.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9")
WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 14, 30  # margins for the axes' labels
FONT = 14
_ids = itertools.count(1)


def _frame(title: str, desc: str, body: str, legend: Sequence[tuple[str, str]] = (), height: int = HEIGHT) -> Markup:
    n = next(_ids)
    keys, x = [], LEFT
    for name, c in legend:
        keys.append(f'<g transform="translate({x},{height + 14})"><rect width="12" height="12" y="-11" fill="{c}"/>'
                    f'<text x="17" font-size="{FONT}">{escape(name)}</text></g>')
        x += 40 + len(name) * FONT * 0.55  # about the width of the text
    keys = "".join(keys)
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height + (22 if legend else 0)}" '
        f'aria-labelledby="chart{n}-t chart{n}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart{n}-t">{escape(title)}</title><desc id="chart{n}-d">{escape(desc)}</desc>'
        f'{body}{keys}</svg>')


def _axes(days: Sequence[str], top: float, height: int = HEIGHT) -> str:
    """Y axis with 0 and the top value, X axis with the first, middle and last day."""
    y0, x1 = height - BOTTOM, WIDTH - RIGHT
    out = [f'<line x1="{LEFT}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#999"/>',
           f'<line x1="{LEFT}" y1="{TOP}" x2="{x1}" y2="{TOP}" stroke="#eee"/>',
           f'<text x="{LEFT - 6}" y="{y0}" font-size="{FONT}" text-anchor="end">0</text>',
           f'<text x="{LEFT - 6}" y="{TOP + 8}" font-size="{FONT}" text-anchor="end">{_num(top)}</text>']
    if days:
        for i in sorted({0, len(days) // 2, len(days) - 1}):
            anchor = "start" if i == 0 else ("end" if i == len(days) - 1 else "middle")
            out.append(f'<text x="{_x(i, len(days)):.1f}" y="{y0 + 16}" font-size="{FONT}" '
                       f'text-anchor="{anchor}">{escape(days[i])}</text>')
    return "".join(out)


def _x(i: int, n: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + (span / 2 if n == 1 else span * i / (n - 1))


def _y(v: float, top: float, height: int = HEIGHT) -> float:
    return height - BOTTOM - (height - BOTTOM - TOP) * (v / top if top else 0)


def _num(v: float) -> str:
    return f"{v:,.0f}"


def _top(values) -> float:
    """A round number at or above the largest value, so the axis reads well."""
    m = max(values, default=0)
    if m <= 0:
        return 1
    step = 10 ** (len(str(int(m))) - 1)
    return float(-(-m // step) * step) if step > 1 else float(max(1, m))


def lines(title: str, days: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]) -> Markup:
    """One line per series over the days."""
    top = _top(v for _, vals in series for v in vals)
    body = [_axes(days, top)]
    words = []
    for (name, values), colour in zip(series, PALETTE):
        points = " ".join(f"{_x(i, len(values)):.1f},{_y(v, top):.1f}" for i, v in enumerate(values))
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if values:
            peak = max(range(len(values)), key=lambda i: values[i])
            words.append(f"{name}: from {_num(values[0])} to {_num(values[-1])}, highest {_num(values[peak])} "
                         f"on {days[peak]}")
    desc = f"{days[0]} to {days[-1]}. " + "; ".join(words) + "." if days else "No days in the period."
    return _frame(title, desc, "".join(body), [(n, c) for (n, _), c in zip(series, PALETTE)])


def bars(title: str, labels: Sequence[str], values: Sequence[float]) -> Markup:
    """One bar per label (e.g. the backlog's age buckets)."""
    top = _top(values)
    n = max(1, len(values))
    slot = (WIDTH - LEFT - RIGHT) / n
    body = [_axes([], top)]
    for i, (label, v) in enumerate(zip(labels, values)):
        x, y = LEFT + i * slot + slot * 0.15, _y(v, top)
        body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{HEIGHT - BOTTOM - y:.1f}" '
                    f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                    f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="{FONT}" '
                    f'text-anchor="middle">{escape(label)}</text>'
                    f'<text x="{x + slot * 0.35:.1f}" y="{y - 4:.1f}" font-size="{FONT}" '
                    f'text-anchor="middle">{_num(v)}</text>')
    desc = "; ".join(f"{label}: {_num(v)}" for label, v in zip(labels, values)) + "."
    return _frame(title, desc, "".join(body))


def stacked(title: str, days: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]) -> Markup:
    """Bars per day split by series (e.g. the sentiment mix)."""
    totals = [sum(vals[i] for _, vals in series) for i in range(len(days))]
    top = _top(totals)
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(days))
    body = [_axes(days, top)]
    for i in range(len(days)):
        base = 0.0
        for (_, values), colour in zip(series, PALETTE):
            v = values[i]
            if v:
                y1, y0 = _y(base + v, top), _y(base, top)
                body.append(f'<rect x="{LEFT + i * slot + slot * 0.1:.1f}" y="{y1:.1f}" width="{slot * 0.8:.1f}" '
                            f'height="{y0 - y1:.1f}" fill="{colour}"/>')
            base += v
    sums = [(name, sum(values)) for name, values in series]
    whole = sum(v for _, v in sums) or 1
    desc = (f"{days[0]} to {days[-1]}: " if days else "") + "; ".join(
        f"{name} {_num(v)} ({v / whole:.0%})" for name, v in sums) + "."
    return _frame(title, desc, "".join(body), [(n, c) for (n, _), c in zip(series, PALETTE)])
