"""The usage page's charts: pure functions, plain data in, a plotly Figure out.

Nothing here touches Flask or the database, so each chart is tested by building it from lists.
Figures have transparent backgrounds and neutral grays, so they read on light and dark pages;
static/js/usage.js re-colours text and grid lines for the page's theme when it draws them.
"""

import hashlib
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import NamedTuple

import plotly.graph_objects as go

from dashboard.models.usage import LATENCY_BUCKETS_MS

FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
NEUTRAL = "#6b7280"  # gray-500: legible on white and on the dark theme's #171a23
GRID = "rgba(128, 128, 128, 0.18)"
TRANSPARENT = "rgba(0, 0, 0, 0)"
TOOL_COLORS = (
    "#6366f1",
    "#06b6d4",
    "#f59e0b",
    "#ec4899",
    "#10b981",
    "#8b5cf6",
    "#f97316",
    "#3b82f6",
    "#84cc16",
    "#14b8a6",
)


# The built-in tools each get a colour of their own; any other tool gets one from its name.
BUILTIN_TOOL_COLORS = {
    name: TOOL_COLORS[index]
    for index, name in enumerate(
        ("sentiment", "keywords", "language", "readability", "markdown", "json_validate", "echo")
    )
}


def tool_color(tool: str) -> str:
    """The colour of a tool in every chart and month: chosen by its name, not by its rank."""
    if tool in BUILTIN_TOOL_COLORS:
        return BUILTIN_TOOL_COLORS[tool]
    # Other tools share the colours the built-in ones leave, so they never look like one.
    spare = TOOL_COLORS[len(BUILTIN_TOOL_COLORS) :]
    digest = hashlib.sha256(tool.encode("utf-8", "backslashreplace")).digest()
    return spare[digest[0] % len(spare)]


OUTCOME_COLORS = {
    "success": "#10b981",
    "error": "#ef4444",
    "rate_limit": "#f59e0b",
    "quota": "#a855f7",
}
PRIMARY = "#6366f1"
SECONDARY = "#f59e0b"  # amber beside indigo: the trend's two series never look alike
OTHER = "#9ca3af"  # gray-400: the tools folded into "Other"
TOP_TOOLS = 5  # tools drawn one by one; past one more, the rest are summed as "Other"
ERROR = "#ef4444"
ERROR_RATE = "#f59e0b"
P95 = "#ec4899"
# An empty template keeps plotly.py's default theme (≈6 kB per figure) out of the page.
NO_TEMPLATE = go.layout.Template()


class Percentile(NamedTuple):
    """A percentile of execution time read off the histogram, in milliseconds."""

    ms: float
    open_ended: bool  # True: it fell in the last, open bucket; `ms` is that bucket's lower bound

    @property
    def label(self) -> str:
        """`12 ms`, `3.4 ms`, or `> 5000 ms` for the open bucket."""
        if self.open_ended:
            return f"> {self.ms:.0f} ms"
        return f"{self.ms:.1f} ms" if self.ms < 10 else f"{self.ms:.0f} ms"


def latency_percentile(
    counts: Sequence[int], q: float, bounds: Sequence[int] = LATENCY_BUCKETS_MS
) -> Percentile | None:
    """The q-quantile (0 < q ≤ 1) of a latency histogram; None when it counts no calls.

    `counts` holds one count per bucket: calls that took ≤ bounds[0] ms, then each
    (bounds[i-1], bounds[i]] ms, and last the open bucket > bounds[-1] ms, as in usage_daily's
    latency_le_1 … latency_gt_5000 columns. The rank of the percentile is q * N, N being the
    number of calls. Walking the buckets in order, the first bucket whose cumulative count
    reaches the rank holds the percentile, and we interpolate linearly inside it: its lower bound
    (the previous bucket's upper bound, 0 for the first) plus its width times the share of its
    calls needed to reach the rank. This is how Prometheus' histogram_quantile works. The last
    bucket has no upper bound, so a percentile that falls in it is reported as its lower bound
    (5000 ms) with open_ended=True, shown as "> 5000 ms".
    """
    if len(counts) != len(bounds) + 1:
        raise ValueError(f"expected {len(bounds) + 1} bucket counts, got {len(counts)}")
    if not 0 < q <= 1:
        raise ValueError("q must be in (0, 1]")
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    below = 0
    for index, count in enumerate(counts[:-1]):
        if count and below + count >= rank:
            lower = bounds[index - 1] if index else 0
            upper = bounds[index]
            return Percentile(lower + (upper - lower) * (rank - below) / count, False)
        below += count
    return Percentile(float(bounds[-1]), True)


def daily_latency(histograms: Sequence[Sequence[int]]) -> dict[str, list[Percentile | None]]:
    """The median and 95th percentile of each day's histogram (None for days without calls)."""
    return {
        "p50": [latency_percentile(counts, 0.5) for counts in histograms],
        "p95": [latency_percentile(counts, 0.95) for counts in histograms],
    }


def base_layout(days: Sequence[date] | None = None, **extra) -> dict:
    """The layout every usage chart shares: transparent, neutral, a legend above the plot."""
    layout = {
        "template": NO_TEMPLATE,
        "paper_bgcolor": TRANSPARENT,
        "plot_bgcolor": TRANSPARENT,
        "font": {"family": FONT_FAMILY, "size": 12, "color": NEUTRAL},
        "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
        "height": 300,
        "hovermode": "x unified",
        "hoverlabel": {"font": {"family": FONT_FAMILY}},
        "legend": {
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 1.02,
            "yanchor": "bottom",
            "bgcolor": TRANSPARENT,
            "traceorder": "normal",  # stacked bars would list the legend upside down
        },
        "bargap": 0.28,
        "xaxis": {
            "automargin": True,
            "showgrid": False,
            "linecolor": GRID,
            "tickcolor": GRID,
            "fixedrange": True,
        },
        "yaxis": {
            "automargin": True,
            "gridcolor": GRID,
            "zerolinecolor": GRID,
            "rangemode": "tozero",
            "separatethousands": True,
            "fixedrange": True,
        },
    }
    if days:
        # Bars sit on midnight; half a day either side shows the whole first and last bar.
        layout["xaxis"].update(
            type="date",
            range=[
                f"{days[0] - timedelta(days=1)}T12:00:00",
                f"{days[-1]}T12:00:00",
            ],
            tickformat="%b %-d",
            hoverformat="%a, %b %-d",
        )
        if len(days) <= 14:  # a short range (the month's first days): one tick a day, not 12 h
            layout["xaxis"]["dtick"] = 86_400_000
    for name, value in extra.items():
        if isinstance(value, dict) and isinstance(layout.get(name), dict):
            layout[name] = {**layout[name], **value}
        else:
            layout[name] = value
    return layout


def figure(traces: list[dict], layout: dict) -> go.Figure:
    """A Figure from plain trace and layout dicts, without plotly.py's per-property checks.

    Validating every property costs about five times the rest of building a chart, on every
    page view; tests/usage/test_charts.py validates each chart once instead.
    """
    return go.Figure(traces, layout, _validate=False)


def bar(**properties) -> dict:
    """A bar trace."""
    return {"type": "bar", **properties}


def scatter(**properties) -> dict:
    """A line (scatter) trace."""
    return {"type": "scatter", **properties}


def iso(days: Sequence[date]) -> list[str]:
    """Dates as the ISO strings plotly reads as a date axis."""
    return [day.isoformat() for day in days]


def counted(values: Sequence[int | None], one: str, many: str | None = None) -> list[str]:
    """Hover labels that agree with their number: `1 call`, `2 calls`, `1,024 calls`."""
    many = many or f"{one}s"
    return [f"{value:,} {one if value == 1 else many}" for value in (v or 0 for v in values)]


def count_axis(totals: Sequence[int], **extra) -> dict:
    """A y-axis of whole numbers: a few calls read "1, 2, 3", never "0.5 calls"."""
    axis = {"tickformat": ",d", **extra}
    if max(totals, default=0) <= 5:
        axis["dtick"] = 1
        axis["range"] = [0, max(max(totals, default=0), 1) * 1.05]
    return axis


def daily_totals(series: Sequence[Sequence[int]]) -> list[int]:
    """Each day's sum over several series (the height of a day's stacked bar)."""
    return [sum(day) for day in zip(*series, strict=True)] if series else []


def total_trace(x: list[str], totals: Sequence[int], one: str) -> dict:
    """An invisible trace whose only job is the day's total in the unified hover."""
    return scatter(
        x=x,
        y=list(totals),
        customdata=counted(totals, one),
        name="Total",
        mode="markers",
        marker={"color": TRANSPARENT, "size": 1},
        showlegend=False,
        hovertemplate="<b>%{customdata}</b><extra>Total</extra>",
    )


def top_tools(by_tool: Mapping[str, Sequence[int]]) -> list[tuple[str, list[int], str]]:
    """(name, daily calls, colour) of the busiest tools, and the rest summed as "Other" when more
    than one would be folded: a chart of seven tools reads no better than one of six."""
    order = sorted(by_tool, key=lambda tool: (-sum(by_tool[tool]), tool))
    shown = [(tool, list(by_tool[tool]), tool_color(tool)) for tool in order]
    if len(order) <= TOP_TOOLS + 1:
        return shown
    rest = daily_totals([by_tool[tool] for tool in order[TOP_TOOLS:]])
    return [*shown[:TOP_TOOLS], (f"Other ({len(order) - TOP_TOOLS} tools)", rest, OTHER)]


def calls_by_tool_chart(days: Sequence[date], by_tool: Mapping[str, Sequence[int]]) -> go.Figure:
    """Calls per day, one stacked bar segment per tool (busiest tool at the bottom, at most
    five and "Other"), the day's total in the hover."""
    x = iso(days)
    tools = top_tools(by_tool)
    traces = [
        bar(
            x=x,
            y=values,
            customdata=counted(values, "call"),
            name=name,
            marker={"color": color},
            hovertemplate="%{customdata}<extra>%{fullData.name}</extra>",
        )
        for name, values, color in tools
    ]
    totals = daily_totals([values for _, values, _ in tools]) or [0] * len(x)
    traces.append(total_trace(x, totals, "call"))
    return figure(traces, base_layout(days, barmode="stack", yaxis=count_axis(totals)))


def calls_by_outcome_chart(
    days: Sequence[date],
    success: Sequence[int],
    errors: Sequence[int],
    rate_limited: Sequence[int],
    quota_rejected: Sequence[int],
) -> go.Figure:
    """Calls per day stacked by outcome: success, error, refused by the rate limit or the quota."""
    x = iso(days)
    series = (
        ("Success", success, "success"),
        ("Error", errors, "error"),
        ("Refused: rate limit", rate_limited, "rate_limit"),
        ("Refused: quota", quota_rejected, "quota"),
    )
    traces = [
        bar(
            x=x,
            y=list(values),
            name=name,
            marker={"color": OUTCOME_COLORS[key]},
            hovertemplate="%{y:,}<extra>%{fullData.name}</extra>",
        )
        for name, values, key in series
    ]
    totals = daily_totals([values for _, values, _ in series])
    traces.append(total_trace(x, totals, "call"))
    return figure(traces, base_layout(days, barmode="stack", yaxis=count_axis(totals)))


def tokens_chart(days: Sequence[date], tokens: Sequence[int]) -> go.Figure:
    """Tokens per day."""
    trace = bar(
        x=iso(days),
        y=list(tokens),
        customdata=counted(tokens, "token"),
        name="Tokens",
        marker={"color": PRIMARY},
        hovertemplate="%{customdata}<extra></extra>",
    )
    return figure([trace], base_layout(days, showlegend=False, yaxis=count_axis(tokens)))


def error_rates(errors: Sequence[int], calls: Sequence[int]) -> list[float | None]:
    """Each day's errors / calls, or None for a day without calls (a gap, not a zero)."""
    return [(e / c if c else None) for e, c in zip(errors, calls, strict=True)]


def errors_chart(days: Sequence[date], errors: Sequence[int], calls: Sequence[int]) -> go.Figure:
    """Errors per day as bars, and the error rate as a line on a second axis."""
    x = iso(days)
    bars = bar(
        x=x,
        y=list(errors),
        name="Errors",
        customdata=counted(errors, "error"),
        marker={"color": ERROR},
        hovertemplate="%{customdata}<extra></extra>",
    )
    rate = scatter(
        x=x,
        y=error_rates(errors, calls),
        name="Error rate",
        yaxis="y2",
        mode="lines+markers",
        line={"color": ERROR_RATE, "width": 2},
        marker={"size": 5},
        connectgaps=False,
        hovertemplate="%{y:.1%} error rate<extra></extra>",
    )
    layout = base_layout(
        days,
        yaxis=count_axis(errors, title={"text": "Errors (bars)"}),
        yaxis2={
            "title": {"text": "Error rate (line)"},
            "overlaying": "y",
            "tickmode": "auto",  # its own round steps, not the left axis's grid divided
            "side": "right",
            "tickformat": ".1~%",  # 2.5%, not a rounded 3%
            "rangemode": "tozero",
            "showgrid": False,
            "automargin": True,
            "fixedrange": True,
        },
    )
    return figure([bars, rate], layout)


def latency_chart(days: Sequence[date], histograms: Sequence[Sequence[int]]) -> go.Figure:
    """Median and 95th-percentile execution time per day, read off each day's histogram."""
    x = iso(days)
    latency = daily_latency(histograms)
    traces = []
    for key, name, color in (("p50", "Median", PRIMARY), ("p95", "95th percentile", P95)):
        values = latency[key]
        traces.append(
            scatter(
                x=x,
                y=[p.ms if p else None for p in values],
                customdata=[p.label if p else "no calls" for p in values],
                name=name,
                mode="lines+markers",
                line={"color": color, "width": 2, "shape": "linear"},
                marker={"size": 5},
                connectgaps=False,
                hovertemplate="%{customdata}<extra>%{fullData.name}</extra>",
            )
        )
    layout = base_layout(days, yaxis={"ticksuffix": " ms", "title": {"text": "Execution time"}})
    return figure(traces, layout)


def trend_chart(
    months: Sequence[str],
    calls: Sequence[int],
    tokens: Sequence[int],
    selected: str | None = None,
) -> go.Figure:
    """Calls (bars) and tokens (line, second axis) for each month `YYYY-MM`, `selected` darker."""
    x = [f"{month}-01" for month in months]
    colors = [PRIMARY if month == selected else "rgba(99, 102, 241, 0.45)" for month in months]
    bars = bar(
        x=x,
        y=list(calls),
        name="Calls",
        customdata=counted(calls, "call"),
        marker={"color": colors},
        hovertemplate="%{customdata}<extra></extra>",
    )
    line = scatter(
        x=x,
        y=list(tokens),
        name="Tokens",
        yaxis="y2",
        mode="lines+markers",
        line={"color": SECONDARY, "width": 2},
        customdata=counted(tokens, "token"),
        marker={"size": 6},
        hovertemplate="%{customdata}<extra></extra>",
    )
    layout = base_layout(
        xaxis={"type": "date", "hoverformat": "%B %Y"},
        yaxis=count_axis(calls, title={"text": "Calls (bars)"}),
        yaxis2={
            "title": {"text": "Tokens (line)"},
            "overlaying": "y",
            "tickmode": "auto",  # its own round steps, not the left axis's grid divided
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
            "separatethousands": True,
            "automargin": True,
            "fixedrange": True,
        },
    )
    return figure([bars, line], layout)


def figure_json(fig: go.Figure) -> str:
    """The figure as JSON that is safe inside <script type="application/json">."""
    text = fig.to_json()
    # A tool name such as "</script>" must not end the data block early.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def until(series: Mapping, today: date) -> dict:
    """The month's daily series cut after `today`: the current month's charts end today
    instead of showing the empty rest of the month."""
    keep = sum(1 for day in series["days"] if day <= today)
    if keep == len(series["days"]):
        return dict(series)
    cut = {}
    for name, values in series.items():
        if isinstance(values, Mapping):
            cut[name] = {key: list(column)[:keep] for key, column in values.items()}
        elif isinstance(values, list | tuple) and len(values) == len(series["days"]):
            cut[name] = list(values)[:keep]
        else:
            cut[name] = values
    return cut


def month_figures(
    series: Mapping, trend: Sequence[Mapping], month: str, today: date | None = None
) -> dict[str, go.Figure]:
    """Every chart of the usage page from the period's daily series (a month or the rolling
    days) and the 12-month trend, `month` highlighted; with `today`, the days after it are left
    out (the current month ends today)."""
    if today is not None:
        series = until(series, today)
    days = series["days"]
    success = [c - e for c, e in zip(series["calls"], series["errors"], strict=True)]
    return {
        "calls-by-tool": calls_by_tool_chart(days, series["by_tool"]),
        "calls-by-outcome": calls_by_outcome_chart(
            days,
            success,
            series["errors"],
            series["rejected_rate_limit"],
            series["rejected_quota"],
        ),
        "tokens": tokens_chart(days, series["tokens"]),
        "errors": errors_chart(days, series["errors"], series["calls"]),
        "latency": latency_chart(days, series["histograms"]),
        "trend": trend_chart(
            [row["month"] for row in trend],
            [row["calls"] for row in trend],
            [row["tokens"] for row in trend],
            selected=month,
        ),
    }


def summaries(
    series: Mapping, trend: Sequence[Mapping], span: str = "this month"
) -> dict[str, str]:
    """A sentence per chart for people who cannot see it (the chart's text alternative);
    `span` says which days ("in the last 30 days", "in March 2026")."""
    days = series["days"]

    def busiest(values: Sequence[int], unit: str) -> str:
        total = sum(values)
        if not total:
            return f"No {unit} {span}."
        peak = max(range(len(values)), key=lambda index: values[index])
        return (
            f"{total:,} {unit} {span}; the busiest day was "
            f"{days[peak]:%B} {days[peak].day} with {values[peak]:,}."
        )

    rejected = sum(series["rejected_rate_limit"]) + sum(series["rejected_quota"])
    errors, calls = sum(series["errors"]), sum(series["calls"])
    tools = sorted(series["by_tool"].items(), key=lambda item: -sum(item[1]))
    top = ", ".join(f"{name} {sum(values):,}" for name, values in tools[:3])
    rate = f"{errors / calls:.1%}" if calls else "no calls"
    year_calls = sum(row["calls"] for row in trend)
    return {
        "calls-by-tool": busiest(series["calls"], "calls") + (f" Most used: {top}." if top else ""),
        "calls-by-outcome": (
            f"{calls - errors:,} succeeded, {errors:,} failed and {rejected:,} were refused "
            "(rate limit or quota)."
        ),
        "tokens": busiest(series["tokens"], "tokens"),
        "errors": f"{errors:,} errors out of {calls:,} calls ({rate}).",
        "latency": "Median and 95th-percentile execution time per day, in milliseconds.",
        "trend": f"{year_calls:,} calls over the 12 months shown.",
    }
