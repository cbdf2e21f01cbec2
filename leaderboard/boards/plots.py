"""Server-side SVG plots of the boards and of a submission's scores (issue 11): no script, no library.

Pure functions: the ``*_data`` ones turn board rows (``rows.BoardRow``) or per-clip scores into plain
lists, which a page shows as the plot's data table, and the ``*_svg`` ones draw those same lists as a
standalone SVG string (``role="img"`` with a ``<title>`` and a ``<desc>``, a fixed size and a viewBox,
axes with ticks and labels). Every text is escaped; numbers are formatted at the metric's precision.
Colours are SVG presentation attributes, dark on white, readable on screen and in print; the site's
Content-Security-Policy forbids inline ``style``, so there is none. Each mark carries its own
``<title>`` (a tooltip, and what the tests compare with the data table).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from evaluation.metrics import METRICS, metric_info
from leaderboard.metric_texts import shown_metric

if TYPE_CHECKING:  # the rows are read by attribute: this module imports no model
    from .rows import BoardRow

WIDTH = 720
FONT = "system-ui, -apple-system, 'Segoe UI', 'Noto Sans', sans-serif"
INK = "#1b1f24"
MUTED = "#57606a"
GRID = "#d0d7de"
ACCENT = "#0b5cad"
BAR = "#9fc1e8"
SHADE = "#e8eef6"
LABEL_CHARS = 34


# -- data ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForestRow:
    """One ranked entry of the forest plot."""

    rank: int
    tie_group: int
    tied_with_above: bool
    team: str
    method_name: str
    value: float
    low: float | None
    high: float | None

    @property
    def label(self) -> str:
        return _entry_label(self.team, self.method_name)


@dataclass(frozen=True)
class ProgressPoint:
    """An entry of the board in time order, with the best score on the board up to it."""

    at: datetime
    team: str
    method_name: str
    value: float
    best: float
    #: This entry raised the best score (the first entry does).
    record: bool

    @property
    def label(self) -> str:
        return _entry_label(self.team, self.method_name)


@dataclass(frozen=True)
class ScatterPoint:
    submission_id: int
    team: str
    method_name: str
    x: float
    y: float
    rank: int | None

    @property
    def label(self) -> str:
        return _entry_label(self.team, self.method_name)


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int


def plotted_metric(rows: Iterable[BoardRow], columns: Sequence[str]) -> str | None:
    """The column a board's plots show: its primary metric, or (no ranked entry has it yet, e.g. no judge)
    the first column a ranked entry has, as the board then ranks by. None when no ranked entry has any."""
    ranked = [row for row in rows if row.rank is not None]
    for column in columns:
        if any(column in row.scores for row in ranked):
            return column
    return None


def forest_data(rows: Iterable[BoardRow], metric: str) -> list[ForestRow]:
    """The ranked rows that have ``metric``, in board order, with their interval of it (if any)."""
    data = []
    for row in rows:
        if row.rank is None or metric not in row.scores:
            continue
        bounds = (row.intervals or {}).get(metric)
        data.append(
            ForestRow(
                rank=row.rank,
                tie_group=row.tie_group if row.tie_group is not None else row.rank,
                tied_with_above=bool(row.tie_group is not None and row.tie_group != row.rank),
                team=row.team,
                method_name=row.method_name,
                value=row.scores[metric],
                low=bounds[0] if bounds else None,
                high=bounds[1] if bounds else None,
            )
        )
    return data


def progress_data(rows: Iterable[BoardRow], metric: str) -> list[ProgressPoint]:
    """The board's ranked entries that have ``metric``, oldest first, each with the running best (higher is
    better for every metric). Only the entries the board shows count: with each team's best only, that."""
    entries = sorted(
        (row for row in rows if row.rank is not None and row.submitted_at is not None and metric in row.scores),
        key=lambda row: (row.submitted_at, row.submission_id or 0),
    )
    points, best = [], None
    for row in entries:
        value = row.scores[metric]
        record = best is None or value > best
        best = value if record else best
        points.append(ProgressPoint(row.submitted_at, row.team, row.method_name, value, best, record))
    return points


def scatter_data(x_rows: Iterable[BoardRow], x_metric: str, y_rows: Iterable[BoardRow], y_metric: str):
    """The entries on both boards (matched by submission) with ``x_metric`` on the first and ``y_metric``
    on the second, in the first board's order."""
    y_of = {row.submission_id: row for row in y_rows if row.submission_id is not None and y_metric in row.scores}
    return [
        ScatterPoint(
            submission_id=row.submission_id,
            team=row.team,
            method_name=row.method_name,
            x=row.scores[x_metric],
            y=y_of[row.submission_id].scores[y_metric],
            rank=row.rank,
        )
        for row in x_rows
        if row.submission_id is not None and row.submission_id in y_of and x_metric in row.scores
    ]


def movie_of(clip_id: str) -> str:
    """The movie of a clip id ``<movie_id>_<start>_<end>``."""
    return clip_id.rsplit("_", 2)[0]


def clip_values(per_clip: Mapping[str, Mapping[str, float]], metric: str) -> list[float]:
    return [scores[metric] for scores in per_clip.values() if metric in scores and scores[metric] is not None]


def movie_means(per_clip: Mapping[str, Mapping[str, float]], metric: str) -> list[tuple[str, int, float]]:
    """(movie id, clips, mean of the clips' ``metric``) per movie, by movie id."""
    grouped: dict[str, list[float]] = {}
    for clip_id, scores in per_clip.items():
        if scores.get(metric) is not None:
            grouped.setdefault(movie_of(clip_id), []).append(scores[metric])
    return [(movie, len(values), sum(values) / len(values)) for movie, values in sorted(grouped.items())]


def clip_metrics(per_clip: Mapping[str, Mapping[str, float]]) -> list[str]:
    """The metrics the per-clip scores carry, in the metrics' own order."""
    present = {name for scores in per_clip.values() for name in scores}
    return [name for name in METRICS if name in present]


def histogram(values: Sequence[float], domain: tuple[float, float], bins: int = 10) -> list[Bin]:
    """``bins`` equal bins over ``domain`` (widened to hold every value); the last bin includes its top."""
    low, high = domain
    if values:
        low, high = min(low, min(values)), max(high, max(values))
    if high <= low:
        high = low + 1
    ticks = nice_ticks(low, high, bins)
    low, high = ticks[0], ticks[-1]
    width = (high - low) / bins
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, max(0, int((value - low) / width)))] += 1
    return [Bin(low + index * width, low + (index + 1) * width, count) for index, count in enumerate(counts)]


def metric_domain(metric: str) -> tuple[float, float]:
    """The metric's scale as (low, high), from its label such as "0–5"."""
    try:
        low, high = metric_info(metric).scale.replace("-", "–").split("–")
        return float(low), float(high)
    except (KeyError, ValueError):
        return 0.0, 1.0


# -- formatting ------------------------------------------------------------------------------------------


def fmt(value: float, precision: int) -> str:
    return f"{value:.{precision}f}"


def precision_of(metric: str) -> int:
    try:
        return metric_info(metric).precision
    except KeyError:
        return 4


def label_of(metric: str) -> str:
    try:
        return shown_metric(metric).label
    except KeyError:
        return metric


def interval_text(low: float | None, high: float | None, precision: int) -> str:
    return "" if low is None or high is None else f"[{fmt(low, precision)}, {fmt(high, precision)}]"


def _entry_label(team: str, method_name: str) -> str:
    return f"{team} · {method_name}" if team and method_name else (team or method_name or "—")


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _n(value: float) -> str:
    """A coordinate: one decimal, no trailing zero."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] in about ``count`` steps of 1, 2, 2.5 or 5 times a power of 10."""
    if not math.isfinite(low) or not math.isfinite(high):
        low, high = 0.0, 1.0
    if high <= low:
        pad = abs(low) * 0.1 or 0.5
        low, high = low - pad, high + pad
    span = high - low
    magnitude = 10 ** math.floor(math.log10(span / count))
    step = magnitude
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if span / step <= count:
            break
    start = math.floor(low / step + 1e-9) * step
    end = math.ceil(high / step - 1e-9) * step
    steps = max(1, round((end - start) / step))
    return [round(start + index * step, 10) for index in range(steps + 1)]


def _tick_decimals(ticks: Sequence[float]) -> int:
    if len(ticks) < 2:
        return 0
    step = ticks[1] - ticks[0]
    for decimals in range(0, 6):
        if abs(round(step, decimals) - step) < 1e-9 and all(abs(round(t, decimals) - t) < 1e-9 for t in ticks):
            return decimals
    return 6


class _Scale:
    """A linear map from the ticks' span to [start, end] pixels."""

    def __init__(self, ticks: Sequence[float], start: float, end: float):
        self.ticks, self.start, self.end = list(ticks), start, end
        self.low, self.high = self.ticks[0], self.ticks[-1]
        self.decimals = _tick_decimals(self.ticks)

    def __call__(self, value: float) -> float:
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)


# -- SVG -------------------------------------------------------------------------------------------------


def _svg(plot_id: str, height: int, title: str, desc: str, body: list[str]) -> str:
    plot_id = escape(plot_id)
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" id="{plot_id}" width="{WIDTH}" '
            f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
            f'aria-labelledby="{plot_id}-title {plot_id}-desc" font-family="{escape(FONT)}" font-size="12" '
            f'fill="{INK}">',
            f'<title id="{plot_id}-title">{escape(title)}</title>',
            f'<desc id="{plot_id}-desc">{escape(desc)}</desc>',
            f'<rect class="background" x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
            *body,
            "</svg>",
        ]
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "", extra: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text{klass} x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def _x_axis(
    scale: _Scale, top: float, bottom: float, label: str, labels: Sequence[str] | None = None, *, hug_ends: bool = False
) -> list[str]:
    """Vertical grid lines at the ticks from ``top`` to ``bottom``, the axis line, tick labels and the label."""
    parts = [f'<g class="axis x-axis" stroke="{GRID}" stroke-width="1">']
    for tick in scale.ticks:
        parts.append(f'<line x1="{_n(scale(tick))}" y1="{_n(top)}" x2="{_n(scale(tick))}" y2="{_n(bottom)}"/>')
    parts.append(
        f'<line x1="{_n(scale.start)}" y1="{_n(bottom)}" x2="{_n(scale.end)}" y2="{_n(bottom)}" stroke="{MUTED}"/>'
    )
    parts.append("</g>")
    parts.append(f'<g class="ticks" fill="{MUTED}">')
    last = len(scale.ticks) - 1
    for index, tick in enumerate(scale.ticks):
        text = labels[index] if labels is not None else fmt(tick, scale.decimals)
        # Long labels (dates) at the ends are kept inside the plot.
        anchor = "middle" if not hug_ends else "start" if index == 0 else "end" if index == last else "middle"
        parts.append(_text(scale(tick), bottom + 16, text, anchor=anchor))
    parts.append("</g>")
    parts.append(_text((scale.start + scale.end) / 2, bottom + 34, label, anchor="middle", cls="axis-label"))
    return parts


def _y_axis(scale: _Scale, left: float, right: float, label: str) -> list[str]:
    """Horizontal grid lines at the ticks, the axis line, tick labels and the (rotated) label."""
    parts = [f'<g class="axis y-axis" stroke="{GRID}" stroke-width="1">']
    for tick in scale.ticks:
        parts.append(f'<line x1="{_n(left)}" y1="{_n(scale(tick))}" x2="{_n(right)}" y2="{_n(scale(tick))}"/>')
    parts.append(
        f'<line x1="{_n(left)}" y1="{_n(scale.start)}" x2="{_n(left)}" y2="{_n(scale.end)}" stroke="{MUTED}"/>'
    )
    parts.append("</g>")
    parts.append(f'<g class="ticks" fill="{MUTED}">')
    for tick in scale.ticks:
        parts.append(_text(left - 6, scale(tick) + 4, fmt(tick, scale.decimals), anchor="end"))
    parts.append("</g>")
    middle = (scale.start + scale.end) / 2
    parts.append(
        _text(16, middle, label, anchor="middle", cls="axis-label", extra=f' transform="rotate(-90 16 {_n(middle)})"')
    )
    return parts


def _empty(plot_id: str, title: str, desc: str, message: str) -> str:
    return _svg(plot_id, 80, title, desc, [_text(WIDTH / 2, 44, message, anchor="middle", cls="empty")])


def forest_svg(data: Sequence[ForestRow], *, metric: str, plot_id: str = "forest", title: str = "") -> str:
    """One line per ranked entry: the score as a dot, its interval as a bar; tie groups shaded alternately."""
    label, precision = label_of(metric), precision_of(metric)
    title = title or _("%(metric)s of each ranked entry, with its confidence interval") % {"metric": label}
    if not data:
        return _empty(
            plot_id,
            title,
            _("No ranked entry has %(metric)s yet.") % {"metric": label},
            _("No ranked entry to plot yet."),
        )
    groups = len({row.tie_group for row in data})
    best = data[0]
    desc = " ".join(
        [
            ngettext(
                "%(count)d ranked entries, one line each from rank 1 down: a dot at the entry's %(metric)s and a bar "
                "across its confidence interval.",
                "%(count)d ranked entries, one line each from rank 1 down: a dot at the entry's %(metric)s and a bar "
                "across its confidence interval.",
                len(data),
            )
            % {"count": len(data), "metric": label},
            ngettext(
                "Entries that share a tie group are statistically tied and share a shaded band (%(count)d groups).",
                "Entries that share a tie group are statistically tied and share a shaded band (%(count)d groups).",
                groups,
            )
            % {"count": groups},
            _("Rank 1: %(entry)s, %(value)s.") % {"entry": best.label, "value": fmt(best.value, precision)},
        ]
    )
    left, right, top, row_height = 250, WIDTH - 24, 12, 24
    bottom = top + row_height * len(data)
    height = bottom + 48
    values = [row.value for row in data] + [b for row in data for b in (row.low, row.high) if b is not None]
    scale = _Scale(nice_ticks(min(values), max(values)), left, right)
    body: list[str] = ['<g class="tie-groups">']
    shaded, previous = False, None
    for index, row in enumerate(data):
        if row.tie_group != previous:
            shaded, previous = (not shaded) if previous is not None else True, row.tie_group
        if shaded:
            y = top + index * row_height
            body.append(
                f'<rect class="tie-band" x="0" y="{_n(y)}" width="{WIDTH}" height="{row_height}" fill="{SHADE}"/>'
            )
    body.append("</g>")
    body += _x_axis(scale, top, bottom, label)
    body.append('<g class="entries">')
    for index, row in enumerate(data):
        middle = top + index * row_height + row_height / 2
        rank = f"{row.tie_group}=" if row.tied_with_above else str(row.rank)
        mark_title = f"{rank} {row.label}: {fmt(row.value, precision)}"
        if row.low is not None and row.high is not None:
            mark_title += f" {interval_text(row.low, row.high, precision)}"
        body.append('<g class="entry">')
        body.append(_text(8, middle + 4, rank, cls="rank"))
        body.append(_text(44, middle + 4, _short(row.label), cls="entry-label"))
        if row.low is not None and row.high is not None:
            x1, x2 = scale(row.low), scale(row.high)
            body.append(
                f'<line class="interval" x1="{_n(x1)}" y1="{_n(middle)}" x2="{_n(x2)}" y2="{_n(middle)}" '
                f'stroke="{INK}" stroke-width="2"/>'
            )
            for x in (x1, x2):
                body.append(
                    f'<line class="whisker" x1="{_n(x)}" y1="{_n(middle - 5)}" x2="{_n(x)}" y2="{_n(middle + 5)}" '
                    f'stroke="{INK}" stroke-width="1.5"/>'
                )
        body.append(
            f'<circle class="point" cx="{_n(scale(row.value))}" cy="{_n(middle)}" r="5" fill="{ACCENT}" '
            f'stroke="#ffffff" stroke-width="1"><title>{escape(mark_title)}</title></circle>'
        )
        body.append("</g>")
    body.append("</g>")
    return _svg(plot_id, height, title, desc, body)


def _time_ticks(start: float, end: float, count: int = 5) -> tuple[list[float], list[str]]:
    if end <= start:
        start, end = start - 86400, end + 86400
    pad = (end - start) * 0.03  # the first and last entries off the axes
    start, end = start - pad, end + pad
    days = (end - start) / 86400
    ticks = [start + (end - start) * index / (count - 1) for index in range(count)]
    pattern = "%Y-%m-%d" if days >= 3 else "%m-%d %H:%M"
    return ticks, [datetime.fromtimestamp(tick, UTC).strftime(pattern) for tick in ticks]


def progress_svg(data: Sequence[ProgressPoint], *, metric: str, plot_id: str = "progress", title: str = "") -> str:
    """The running best of the board's entries over time: a step line, a filled dot at each new best, a
    hollow one at each other entry."""
    label, precision = label_of(metric), precision_of(metric)
    title = title or _("The best %(metric)s on the board over time") % {"metric": label}
    if not data:
        return _empty(
            plot_id,
            title,
            _("No entry on the board has %(metric)s yet.") % {"metric": label},
            _("No entry to plot yet."),
        )
    records = [point for point in data if point.record]
    first, last = records[0], records[-1]
    rises = len(records) - 1
    if rises:
        steps = ngettext(
            "a step line that rises %(count)d time, from %(first)s on %(first_day)s to %(last)s on %(last_day)s",
            "a step line that rises %(count)d times, from %(first)s on %(first_day)s to %(last)s on %(last_day)s",
            rises,
        ) % {
            "count": rises,
            "first": fmt(first.value, precision),
            "first_day": f"{first.at:%Y-%m-%d}",
            "last": fmt(last.value, precision),
            "last_day": f"{last.at:%Y-%m-%d}",
        }
    else:
        steps = _("a flat line at %(value)s since %(day)s") % {
            "value": fmt(first.value, precision),
            "day": f"{first.at:%Y-%m-%d}",
        }
    desc = " ".join(
        [
            # Translators: %(steps)s is "a step line that rises ..." or "a flat line at ...".
            ngettext(
                "The best %(metric)s among the %(count)d entry on the board (the ranked entries this page shows) as "
                "they were submitted: %(steps)s.",
                "The best %(metric)s among the %(count)d entries on the board (the ranked entries this page shows) as "
                "they were submitted: %(steps)s.",
                len(data),
            )
            % {"metric": label, "count": len(data), "steps": steps},
            _("Filled dots are new bests, hollow dots the other entries."),
        ]
    )
    left, right, top, bottom = 70, WIDTH - 24, 14, 286
    height = bottom + 48
    times = [point.at.timestamp() for point in data]
    ticks, labels = _time_ticks(min(times), max(times))
    x = _Scale(ticks, left, right)
    y = _Scale(nice_ticks(min(point.value for point in data), max(point.value for point in data)), bottom, top)
    body = _y_axis(y, left, right, label) + _x_axis(x, top, bottom, _("Submitted (UTC)"), labels, hug_ends=True)
    path = f"M{_n(x(times[0]))},{_n(y(data[0].best))}"
    for stamp, point in zip(times[1:], data[1:], strict=True):
        path += f" H{_n(x(stamp))} V{_n(y(point.best))}"
    path += f" H{_n(right)}"
    body.append(f'<path class="best" d="{path}" fill="none" stroke="{ACCENT}" stroke-width="2.5"/>')
    body.append('<g class="entries">')
    for stamp, point in zip(times, data, strict=True):
        mark_title = f"{point.at:%Y-%m-%d %H:%M} {point.label}: {fmt(point.value, precision)}"
        if point.record:
            new_best = _("%(entry)s (new best)") % {"entry": mark_title}
            body.append(
                f'<circle class="record" cx="{_n(x(stamp))}" cy="{_n(y(point.value))}" r="5" fill="{ACCENT}" '
                f'stroke="#ffffff" stroke-width="1"><title>{escape(new_best)}</title></circle>'
            )
        else:
            body.append(
                f'<circle class="entry" cx="{_n(x(stamp))}" cy="{_n(y(point.value))}" r="3.5" fill="#ffffff" '
                f'stroke="{MUTED}" stroke-width="1.5"><title>{escape(mark_title)}</title></circle>'
            )
    body.append("</g>")
    return _svg(plot_id, height, title, desc, body)


def scatter_svg(
    data: Sequence[ScatterPoint],
    *,
    x_metric: str,
    y_metric: str,
    plot_id: str = "scatter",
    title: str = "",
) -> str:
    """One dot per entry at (``x_metric``, ``y_metric``), on the metrics' scales, with the diagonal."""
    x_label, y_label = label_of(x_metric), label_of(y_metric)
    x_precision, y_precision = precision_of(x_metric), precision_of(y_metric)
    title = title or _("%(x)s against %(y)s for each entry") % {"x": x_label, "y": y_label}
    if not data:
        return _empty(
            plot_id,
            title,
            _("No entry has both %(x)s and %(y)s yet.") % {"x": x_label, "y": y_label},
            _("No entry has both scores yet."),
        )
    desc = ngettext(
        "%(count)d entries, each a dot at its %(x)s (across) and its %(y)s (up), on the metrics' "
        "scales; the dashed diagonal marks equal scores.",
        "%(count)d entries, each a dot at its %(x)s (across) and its %(y)s (up), on the metrics' "
        "scales; the dashed diagonal marks equal scores.",
        len(data),
    ) % {"count": len(data), "x": x_label, "y": y_label}
    left, right, top, bottom = 70, WIDTH - 24, 14, 386
    height = bottom + 48
    x_domain, y_domain = metric_domain(x_metric), metric_domain(y_metric)
    xs, ys = [point.x for point in data], [point.y for point in data]
    x = _Scale(nice_ticks(min(x_domain[0], *xs), max(x_domain[1], *xs)), left, right)
    y = _Scale(nice_ticks(min(y_domain[0], *ys), max(y_domain[1], *ys)), bottom, top)
    body = _y_axis(y, left, right, y_label) + _x_axis(x, top, bottom, x_label)
    low, high = max(x.low, y.low), min(x.high, y.high)
    if low < high:
        body.append(
            f'<line class="diagonal" x1="{_n(x(low))}" y1="{_n(y(low))}" x2="{_n(x(high))}" y2="{_n(y(high))}" '
            f'stroke="{MUTED}" stroke-width="1" stroke-dasharray="4 4"/>'
        )
    body.append('<g class="entries">')
    for point in data:
        mark_title = f"{point.label}: {x_label} {fmt(point.x, x_precision)}, {y_label} {fmt(point.y, y_precision)}"
        body.append(
            f'<circle class="point" cx="{_n(x(point.x))}" cy="{_n(y(point.y))}" r="5" fill="{ACCENT}" '
            f'fill-opacity="0.8" stroke="#ffffff" stroke-width="1"><title>{escape(mark_title)}</title></circle>'
        )
    body.append("</g>")
    return _svg(plot_id, height, title, desc, body)


def histogram_svg(
    bins: Sequence[Bin],
    *,
    metric: str,
    unit: str = "clips",
    plot_id: str = "histogram",
    title: str = "",
) -> str:
    """Bars of how many ``unit`` (clips, movies) score in each bin of ``metric``."""
    label = label_of(metric)
    texts = _histogram_texts(unit)
    title = title or texts.title % {"metric": label}
    total = sum(item.count for item in bins)
    if not total:
        return _empty(plot_id, title, texts.none % {"metric": label}, texts.empty)
    decimals = _tick_decimals([item.low for item in bins] + [bins[-1].high])
    fullest = max(bins, key=lambda item: item.count)
    desc = texts.desc(total) % {
        "count": total,
        "metric": label,
        "bins": len(bins),
        "low": fmt(bins[0].low, decimals),
        "high": fmt(bins[-1].high, decimals),
        "fullest_low": fmt(fullest.low, decimals),
        "fullest_high": fmt(fullest.high, decimals),
        "fullest": fullest.count,
    }
    left, right, top, bottom = 70, WIDTH - 24, 14, 286
    height = bottom + 48
    x = _Scale([item.low for item in bins] + [bins[-1].high], left, right)
    count_ticks = nice_ticks(0, max(fullest.count, 1), 5)
    if len(count_ticks) > 1 and count_ticks[1] - count_ticks[0] < 1:
        count_ticks = list(range(0, max(fullest.count, 1) + 1))
    y = _Scale(count_ticks, bottom, top)
    labels = [fmt(tick, decimals) for tick in x.ticks]
    body = _y_axis(y, left, right, texts.axis) + _x_axis(x, top, bottom, label, labels)
    body.append('<g class="bars">')
    for item in bins:
        x1, x2 = x(item.low), x(item.high)
        mark_title = texts.mark(item.count) % {
            "range": f"{fmt(item.low, decimals)}–{fmt(item.high, decimals)}",
            "count": item.count,
        }
        body.append(
            f'<rect class="bar" x="{_n(x1 + 1)}" y="{_n(y(item.count))}" width="{_n(max(x2 - x1 - 2, 1))}" '
            f'height="{_n(bottom - y(item.count))}" fill="{BAR}" stroke="{ACCENT}" stroke-width="1">'
            f"<title>{escape(mark_title)}</title></rect>"
        )
    body.append("</g>")
    return _svg(plot_id, height, title, desc, body)


@dataclass(frozen=True)
class _HistogramTexts:
    """A histogram's words for what it counts: each sentence whole, for its translation."""

    title: str
    none: str
    empty: str
    axis: str
    desc: Callable[[int], str]
    mark: Callable[[int], str]


def _histogram_texts(unit: str) -> _HistogramTexts:
    """The texts of a histogram of ``unit``: "clips" or "movies"."""
    if unit == "movies":
        return _HistogramTexts(
            title=_("How the movies score on %(metric)s"),
            none=_("No movies have %(metric)s."),
            empty=_("No movies to plot."),
            axis=_("Number of movies"),
            desc=lambda count: ngettext(
                "A histogram of %(count)d movies by %(metric)s, in %(bins)d bins from %(low)s to %(high)s; the fullest "
                "bin, %(fullest_low)s to %(fullest_high)s, holds %(fullest)d.",
                "A histogram of %(count)d movies by %(metric)s, in %(bins)d bins from %(low)s to %(high)s; the "
                "fullest bin, %(fullest_low)s to %(fullest_high)s, holds %(fullest)d.",
                count,
            ),
            mark=lambda count: ngettext("%(range)s: %(count)d movies", "%(range)s: %(count)d movies", count),
        )
    if unit != "clips":
        raise ValueError(f"a histogram counts clips or movies, not {unit!r}")
    return _HistogramTexts(
        title=_("How the clips score on %(metric)s"),
        none=_("No clips have %(metric)s."),
        empty=_("No clips to plot."),
        axis=_("Number of clips"),
        desc=lambda count: ngettext(
            "A histogram of %(count)d clips by %(metric)s, in %(bins)d bins from %(low)s to %(high)s; the fullest "
            "bin, %(fullest_low)s to %(fullest_high)s, holds %(fullest)d.",
            "A histogram of %(count)d clips by %(metric)s, in %(bins)d bins from %(low)s to %(high)s; the fullest "
            "bin, %(fullest_low)s to %(fullest_high)s, holds %(fullest)d.",
            count,
        ),
        mark=lambda count: ngettext("%(range)s: %(count)d clips", "%(range)s: %(count)d clips", count),
    )


def bin_label(item: Bin, bins: Sequence[Bin]) -> str:
    """A bin's range as the plot writes it."""
    decimals = _tick_decimals([entry.low for entry in bins] + [bins[-1].high])
    return f"{fmt(item.low, decimals)}–{fmt(item.high, decimals)}"


# -- the data tables (the plots' text alternatives), formatted as the plots write them ---------------------


def forest_table(data: Sequence[ForestRow], metric: str) -> list[dict[str, str]]:
    precision = precision_of(metric)
    return [
        {
            "rank": f"{row.tie_group}=" if row.tied_with_above else str(row.rank),
            "team": row.team,
            "method_name": row.method_name,
            "value": fmt(row.value, precision),
            "low": "" if row.low is None else fmt(row.low, precision),
            "high": "" if row.high is None else fmt(row.high, precision),
            "tie_group": str(row.tie_group),
        }
        for row in data
    ]


def progress_table(data: Sequence[ProgressPoint], metric: str) -> list[dict[str, str | bool | datetime]]:
    precision = precision_of(metric)
    return [
        {
            "at": point.at,
            "team": point.team,
            "method_name": point.method_name,
            "value": fmt(point.value, precision),
            "best": fmt(point.best, precision),
            "record": point.record,
        }
        for point in data
    ]


def scatter_table(data: Sequence[ScatterPoint], x_metric: str, y_metric: str) -> list[dict[str, str]]:
    return [
        {
            "rank": "" if point.rank is None else str(point.rank),
            "team": point.team,
            "method_name": point.method_name,
            "x": fmt(point.x, precision_of(x_metric)),
            "y": fmt(point.y, precision_of(y_metric)),
        }
        for point in data
    ]


def histogram_table(bins: Sequence[Bin]) -> list[dict[str, str | int]]:
    return [{"range": bin_label(item, bins), "count": item.count} for item in bins]
