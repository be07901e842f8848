"""layers.metrics: class breaks, colours, the hideout contract and the legend (pure)."""

from __future__ import annotations

import json
import re

import pytest

from layers.metrics import (
    COVERAGE_BREAKS,
    METRIC_MSGIDS,
    METRIC_PALETTES,
    NODATA_COLOR,
    class_breaks,
    format_value,
    legend_items,
    metric_hideout,
    metric_legend,
)

HEX = re.compile(r"#[0-9a-f]{6}")
CONTRACT = {
    "metric", "values", "breaks", "colors", "nodata", "opacity", "label", "fmt", "unit",
    "level", "selected",
}  # fmt: skip


def _class_of(v: float, breaks: list[float]) -> int:
    """The JS rule of the contract: number of breaks b with v >= b."""
    return sum(v >= b for b in breaks)


def test_hideout_has_exactly_the_contract_keys_and_is_json():
    h = metric_hideout({"532901": 3, "532922": 0}, "open", "zh", selected="532901", level=2)
    assert set(h) == CONTRACT
    assert json.loads(json.dumps(h)) == h
    assert h["metric"] == "open" and h["selected"] == "532901" and h["level"] == 2
    assert h["values"] == {"532901": 3.0, "532922": 0.0}
    assert len(h["colors"]) == len(h["breaks"]) + 1
    assert all(HEX.fullmatch(c) for c in h["colors"]) and HEX.fullmatch(h["nodata"])
    assert h["label"] == "未办结事件" and h["fmt"] == "int"
    assert metric_hideout({}, "open", "en")["label"] == "Open events"


def test_breaks_are_ascending_and_zero_has_its_own_class():
    values = [0] * 30 + [1] * 10 + [2] * 6 + [3, 4, 5, 7, 9, 12, 20, 41]
    h = metric_hideout({str(i): v for i, v in enumerate(values)}, "open")
    b = h["breaks"]
    assert b == sorted(b) and len(set(b)) == len(b) and len(b) <= 4
    assert b[0] == 1  # 0 → class 0, any event → class >= 1
    assert all(float(x).is_integer() for x in b)  # counts: whole-number limits
    assert _class_of(0, b) == 0 and _class_of(1, b) == 1
    assert _class_of(41, b) == len(b)
    # the busiest class has the darkest colour of the palette
    assert h["colors"][-1] == METRIC_PALETTES["open"][-1]
    assert h["colors"][0] == METRIC_PALETTES["open"][0]


def test_rate_breaks_two_significant_digits():
    values = [0.0, 0.0, 0.37, 1.21, 2.53, 3.31, 10.4, 50.1, 60.0]
    b = class_breaks(values, "rate30")
    assert b[0] == 0.37  # the smallest positive value: the zero class holds only zeros
    assert b == sorted(b) and b[-1] <= max(values)
    for x in b[1:]:
        assert len(f"{x:g}".replace(".", "").lstrip("0")) <= 2, b


def test_degenerate_inputs():
    assert class_breaks([], "open") == []
    assert class_breaks([0, 0, 0], "open") == []
    h = metric_hideout({"a": 0, "b": 0}, "overdue")
    assert h["breaks"] == [] and len(h["colors"]) == 1
    assert legend_items(h) == [("0", h["colors"][0])]
    h = metric_hideout({"a": 5}, "open")
    assert h["breaks"][0] == 1.0 and len(h["colors"]) == len(h["breaks"]) + 1
    # non-finite and non-numeric values are dropped, never sent to the browser
    h = metric_hideout({"a": float("nan"), "b": float("inf"), "c": "7", "d": True, "e": 2}, "open")
    assert h["values"] == {"e": 2.0}


def test_coverage_uses_fixed_breaks_and_a_reversed_meaning():
    h = metric_hideout({"a": 0.1, "b": 0.95}, "coverage", "en")
    assert h["breaks"] == list(COVERAGE_BREAKS)
    assert h["colors"] == list(METRIC_PALETTES["coverage"])
    assert h["fmt"] == "pct" and h["unit"] == "%"
    labels = [label for label, _ in legend_items(h, "en")]
    assert labels == ["< 25%", "25%–50%", "50%–75%", "75%–90%", "≥ 90%", "No value"]


@pytest.mark.parametrize("metric", ["none", "bogus", "", None])
def test_none_and_unknown_metrics_colour_nothing(metric):
    h = metric_hideout({"a": 1}, metric)
    assert h["metric"] == "none" and h["values"] == {} and h["colors"] == []
    assert legend_items(h) == [] and metric_legend(h) == []


def test_legend_labels_for_counts():
    h = {"metric": "open", "breaks": [1.0, 3.0, 4.0, 7.0], "colors": ["#1", "#2", "#3", "#4", "#5"]}
    assert [label for label, _ in legend_items(h)] == ["0", "1–2", "3", "4–6", "≥ 7"]
    assert [c for _, c in legend_items(h)] == ["#1", "#2", "#3", "#4", "#5"]


def test_legend_of_rates_has_a_no_value_row_translated():
    h = metric_hideout({"a": 0, "b": 2.5, "c": 10}, "rate30", "zh")
    rows = legend_items(h, "zh")
    assert rows[0][0] == "0" and rows[-1] == ("无数据", NODATA_COLOR)
    assert h["unit"] == "/万人"
    children = metric_legend(h, "zh")
    assert children[0].children == "近30天每万人事件数"
    assert len(children[1].children) == len(rows)


def test_format_value():
    assert format_value(1234, "open") == "1,234"
    assert format_value(0.756, "coverage") == "76%"
    assert format_value(12.345, "rate30") == "12.3"
    assert format_value(0.0123, "rate30") == "0.012"
    assert format_value(None, "open", "en") == "—"


def test_every_metric_has_a_label_and_palette():
    assert set(METRIC_MSGIDS) == {
        "none", "open", "overdue", "rate30", "coverage", "staffing", "uncovered"
    }
    assert set(METRIC_PALETTES) == set(METRIC_MSGIDS) - {"none"}
