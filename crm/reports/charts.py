"""ECharts options built on the server, as plain JSON for a `data-chart` attribute (static/charts.js mounts them;
the page has no inline script). Each data point may carry `url`, the list it counts, which a click opens.
`_format` tells charts.js how to write values (count, money, percent) in the reader's locale."""
from decimal import Decimal

from crm.settings import workspace_currency

PALETTE = ["#3b6fd8", "#35a57a", "#e3a33b", "#d9534f", "#8e6ad8", "#4bb3c8", "#a0a0a0", "#c86b9b"]


def point(value, url: str | None = None, name: str | None = None) -> dict:
    """One data point: a number ECharts can draw, and where clicking it leads."""
    found = {"value": _number(value)}
    if url:
        found["url"] = url
    if name is not None:
        found["name"] = name
    return found


def _number(value):
    if isinstance(value, Decimal):
        return float(value)
    return value


def series(name: str, points: list[dict], kind: str = "bar", **extra) -> dict:
    return {"name": name, "type": kind, "data": points, **extra}


def _tooltip(trigger: str) -> dict:
    # richText: the tooltip is drawn in the chart's SVG; ECharts' HTML tooltip writes style attributes, which the
    # CSP (style-src 'self') blocks.
    return {"trigger": trigger, "renderMode": "richText"}


def _base(value_format: str) -> dict:
    option = {"color": PALETTE, "aria": {"enabled": True}, "animation": False, "_format": value_format}
    if value_format == "money":
        option["_currency"] = workspace_currency()
    return option


def categories(labels: list[str], all_series: list[dict], value_format: str = "count", horizontal: bool = False,
               second_axis: str | None = None) -> dict:
    """Bars and lines over categories (the buckets of a period, stages, reasons); `second_axis`: the format of a
    right-hand axis that series with `yAxisIndex: 1` use (a rate beside counts)."""
    category = {"type": "category", "data": labels, "axisLabel": {"hideOverlap": True}}
    values = [{"type": "value", "minInterval": 1 if value_format == "count" else 0, "_format": value_format}]
    if second_axis:
        values.append({"type": "value", "_format": second_axis, "splitLine": {"show": False},
                       **({"max": 1} if second_axis == "percent" else {})})
    option = {**_base(value_format), "tooltip": _tooltip("axis"),
              "legend": {"show": len(all_series) > 1, "bottom": 0},
              "grid": {"left": 8, "right": 8, "top": 16, "bottom": 32 if len(all_series) > 1 else 8,
                       "containLabel": True},
              "xAxis": values[0] if horizontal else category, "yAxis": category if horizontal else values,
              "series": all_series}
    if horizontal:
        category["inverse"] = True
    return option


def pie(points: list[dict], value_format: str = "count") -> dict:
    """Shares of a whole; `points` are named."""
    return {**_base(value_format), "tooltip": _tooltip("item"), "legend": {"bottom": 0, "type": "scroll"},
            "series": [{"type": "pie", "radius": ["35%", "65%"], "center": ["50%", "45%"], "data": points,
                        "label": {"formatter": "{b}: {d}%"}}]}


def funnel(points: list[dict]) -> dict:
    """Steps from the widest down; `points` are named."""
    return {**_base("count"), "tooltip": _tooltip("item"),
            "series": [{"type": "funnel", "sort": "none", "left": "5%", "width": "90%", "top": 8, "bottom": 8,
                        "minSize": "8%", "gap": 2, "data": points,
                        "label": {"position": "inside", "formatter": "{b}: {c}"}}]}
