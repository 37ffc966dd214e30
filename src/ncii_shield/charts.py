"""Server-side SVG charts (bars and lines): no script, no CDN, no inline style.

    svg = bar_chart([("0-6 h", 3), ("6-12 h", 1)], title="Time to removal", y_label="requests")

Presentation attributes only (``fill``, ``stroke``), so the pages' strict CSP allows them and a
report opened from disk needs nothing else. Every text is escaped. Each bar carries a ``<title>`` so
a screen reader (or a hover) gives its exact value; charts have ``role="img"`` and a label. Used by
the review dashboard, the monitors' pages and the scan report (the web layer wraps them as Markup).
"""

from __future__ import annotations

from html import escape

# scan results by kind, in the same colours everywhere
COLOURS = {"exact": "#b3261e", "near": "#e8710a", "derivative": "#8e24aa", "no_match": "#1e8e3e",
           "error": "#5f6368"}
PALETTE = ("#1a73e8", "#e8710a", "#8e24aa", "#1e8e3e", "#b3261e", "#5f6368")

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 28, 54


def _nice_max(value: float) -> int:
    if value <= 5:
        return 5
    for step in (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step:
            return step
    return int(value * 1.1) + 1


def bar_chart(bars: list[tuple[str, float]], *, title: str, y_label: str = "", color: str = "#2f5d8a",
              colors: dict[str, str] | None = None, highlight: set[str] | None = None, label_every: int = 1) -> str:
    """``bars``: (label, value). ``colors``: a colour per label (else ``color``); ``highlight``: labels
    drawn in the warning colour (e.g. over 48 h)."""
    highlight, colors = highlight or set(), colors or {}
    top = _nice_max(max((v for _, v in bars), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(bars))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" role="img" '
             f'aria-label="{escape(title)}">',
             f'<text x="{LEFT}" y="16" font-size="14" font-weight="600" fill="#1d2330">{escape(title)}</text>']
    for i in range(5):  # grid lines and y axis values
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dde2ec"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#55607a">'
                     f'{value:g}</text>')
    parts.append(f'<text x="12" y="{TOP + plot_h / 2:.1f}" font-size="11" fill="#55607a" '
                 f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})" text-anchor="middle">{escape(y_label)}</text>')
    for i, (label, value) in enumerate(bars):
        h = plot_h * (value / top if top else 0)
        x = LEFT + i * slot + slot * 0.12
        fill = "#9b2c2c" if label in highlight else colors.get(label, color)
        parts.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{slot * 0.76:.1f}" height="{h:.1f}" '
                     f'fill="{fill}" class="bar" data-label="{escape(label)}" data-value="{value:g}">'
                     f'<title>{escape(label)}: {value:g}</title></rect>')
        if i % label_every == 0:
            cx = LEFT + i * slot + slot / 2
            parts.append(f'<text x="{cx:.1f}" y="{TOP + plot_h + 16}" font-size="10" text-anchor="end" fill="#55607a" '
                         f'transform="rotate(-35 {cx:.1f} {TOP + plot_h + 16})">{escape(label)}</text>')
    if not bars:
        parts.append(f'<text x="{LEFT + 8}" y="{TOP + 20}" font-size="12" fill="#55607a">no data</text>')
    parts.append("</svg>")
    return "".join(parts)


HOUR_BUCKETS = [(0, 6, "0-6 h"), (6, 12, "6-12 h"), (12, 24, "12-24 h"), (24, 36, "24-36 h"), (36, 48, "36-48 h"),
                (48, float("inf"), "over 48 h")]


def hours_histogram(hours: list[float]) -> list[tuple[str, float]]:
    return [(label, sum(1 for h in hours if lo <= h < hi)) for lo, hi, label in HOUR_BUCKETS]


def line_chart(series: dict[str, list[tuple[float, float]]], *, title: str, width: int = 640,
               height: int = 240, x_labels: tuple[str, str] | None = None) -> str:
    """Lines of (x, y) points (x: a number such as a UNIX time), one colour per series, with a legend."""
    left, right, top_pad, bottom = 48, 130, 30, 28
    points = [p for values in series.values() for p in values]
    parts = [_open(width, height, title), f'<text x="8" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    if not points:
        return "".join(parts) + '<text x="8" y="46" font-size="12">no data yet</text></svg>'
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y1 = max(max(p[1] for p in points), 1)
    plot_w, plot_h = width - left - right, height - top_pad - bottom

    def xy(x: float, y: float) -> tuple[float, float]:
        fx = (x - x0) / (x1 - x0) if x1 > x0 else 0.5
        return left + fx * plot_w, top_pad + plot_h - (y / y1) * plot_h

    parts += [f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" stroke="#999"/>',
              f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" stroke="#999"/>',
              f'<text x="4" y="{top_pad + 10}" font-size="11">{_num(y1)}</text>',
              f'<text x="4" y="{top_pad + plot_h}" font-size="11">0</text>']
    if x_labels:
        parts += [f'<text x="{left}" y="{height - 8}" font-size="11">{escape(x_labels[0])}</text>',
                  f'<text x="{left + plot_w}" y="{height - 8}" font-size="11" text-anchor="end">'
                  f'{escape(x_labels[1])}</text>']
    for i, (name, values) in enumerate(series.items()):
        colour = COLOURS.get(name, PALETTE[i % len(PALETTE)])
        coords = " ".join(f"{a:.1f},{b:.1f}" for a, b in (xy(x, y) for x, y in sorted(values)))
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for a, b in (xy(x, y) for x, y in values):
            parts.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.5" fill="{colour}"/>')
        ly = top_pad + 14 + i * 18
        parts += [f'<rect x="{width - right + 10}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>',
                  f'<text x="{width - right + 26}" y="{ly}" font-size="12">{escape(name)}</text>']
    return "".join(parts) + "</svg>"


def _open(width: int, height: int, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title, quote=True)}" '
            f'font-family="sans-serif">')


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
