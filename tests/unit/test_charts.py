"""Server-side SVG charts: escaped text, one bar per value, the warning colour where asked."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ncii_shield.charts import bar_chart, hours_histogram, line_chart

NS = "{http://www.w3.org/2000/svg}"


def test_bars_values_and_escaping():
    svg = str(bar_chart([("<script>alert(1)</script>", 3), ("b", 0), ("over 48 h", 2)], title="T & <x>",
                        y_label="n", highlight={"over 48 h"}))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "style=" not in svg
    root = ET.fromstring(svg)  # well-formed XML
    bars = [r for r in root.iter(NS + "rect") if r.get("class") == "bar"]
    assert [b.get("data-value") for b in bars] == ["3", "0", "2"]
    assert bars[2].get("fill") == "#9b2c2c" and bars[0].get("fill") != "#9b2c2c"
    assert float(bars[0].get("height")) > float(bars[2].get("height")) > float(bars[1].get("height")) == 0


def test_hours_histogram_buckets():
    assert hours_histogram([0.5, 5.9, 6, 47.9, 48, 100]) == [
        ("0-6 h", 2), ("6-12 h", 1), ("12-24 h", 0), ("24-36 h", 0), ("36-48 h", 1), ("over 48 h", 2)]


def test_bar_colours_per_label_and_empty_chart():
    svg = bar_chart([("exact", 2), ("other", 1)], title="t", colors={"exact": "#b3261e"})
    bars = [r for r in ET.fromstring(svg).iter(NS + "rect") if r.get("class") == "bar"]
    assert bars[0].get("fill") == "#b3261e" and bars[1].get("fill") != "#b3261e"
    assert "no data" in bar_chart([], title="t")


def test_line_chart_points_legend_and_escaping():
    svg = line_chart({"matches": [(0, 1), (10, 3)], "<b>": [(0, 0), (10, 2)]}, title="m", x_labels=("a", "b"))
    root = ET.fromstring(svg)
    assert len(list(root.iter(NS + "polyline"))) == 2 and "&lt;b&gt;" in svg
    assert "no data yet" in line_chart({}, title="empty")
