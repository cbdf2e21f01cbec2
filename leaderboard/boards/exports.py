"""A board as a file: CSV and a LaTeX table, made from the board API's own JSON document.

One document serves every form (``api.views.Leaderboard`` builds it), so the JSON, the CSV and the
LaTeX table of a board hold the same rows, rounded the same way for the same viewer. Each form carries
the intervals, the tie groups, and the versions of the metrics, the judge and the references.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from evaluation.metrics import METRICS

#: Columns of every CSV row before the metrics, then after them (the versions, the same on every row).
CSV_LEADING = ("rank", "tie_group", "p_value_vs_above", "team", "method_name", "submission_id", "submitted_at")
CSV_TRAILING = (
    "baseline",
    "moderation",
    "missing_clips",
    "judge_model",
    "paper_url",
    "code_url",
    "uses_character_info",
    "external_data",
    "model_size",
    "evaluation_version",
    "protocol",
    "references",
    "judge_signature",
    "interval_method",
)


def board_csv(document: Mapping[str, Any]) -> str:
    """The rows of a board document as CSV: for each column metric its value and interval ends."""
    columns = list(document["columns"])
    versions = document.get("versions", {})
    method = document.get("interval_method") or {}
    method_text = (
        f"{method.get('method', 'bootstrap')} by {method.get('unit')}, {method.get('resamples')} resamples, "
        f"seed {method.get('seed')}, level {method.get('level')}, {method.get('version')}"
        if method
        else ""
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    metric_headers = [f"{name}{suffix}" for name in columns for suffix in ("", "_low", "_high")]
    writer.writerow([*CSV_LEADING, *metric_headers, *CSV_TRAILING])
    for row in document["rows"]:
        metric_cells = []
        for name in columns:
            low, high = row.get("intervals", {}).get(name, (None, None))
            metric_cells += [_number(row["scores"].get(name)), _number(low), _number(high)]
        writer.writerow(
            [
                _cell(row["rank"]),
                _cell(row.get("tie_group")),
                _number(row.get("p_value_vs_above")),
                _text(row["team"]),
                _text(row["method_name"]),
                _cell(row["submission_id"]),
                _cell(row["submitted_at"]),
                *metric_cells,
                "yes" if row.get("baseline") else "",
                row.get("moderation", ""),
                _cell(row.get("missing_clips")),
                _text(row.get("judge_model", "")),
                _text(row.get("paper_url", "")),
                _text(row.get("code_url", "")),
                _yes_no(row.get("uses_character_info")),
                _yes_no(row.get("external_data")),
                _text(row.get("model_size", "")),
                versions.get("evaluation", ""),
                versions.get("protocol", ""),
                versions.get("references", ""),
                (document.get("judge") or {}).get("signature", ""),
                method_text,
            ]
        )
    return out.getvalue()


def board_latex(document: Mapping[str, Any]) -> str:
    """A booktabs table of the board for a paper: each score with its interval as ±, tie groups marked.

    The ± is half the interval's width (bootstrap intervals need not be symmetric; the CSV and JSON have
    both ends). Rows of one tie group share a rank, marked with an equals sign after the first.
    """
    columns = list(document["columns"])
    precision = {name: METRICS[name].precision if name in METRICS else 4 for name in columns}
    method = document.get("interval_method") or {}
    lines = [
        "% "
        + _comment(
            f"{document.get('title', '')}: {document['challenge']}/{document['phase']}, "
            f"{document['language']}, board {document['stage']}"
        ),
        "% " + _comment(_versions_line(document)),
        "% \\usepackage{booktabs}",
        "\\begin{tabular}{r l l " + " ".join("r" for _ in columns) + "}",
        "\\toprule",
        " & ".join(["Rank", "Team", "Method", *(_latex(METRICS[n].label if n in METRICS else n) for n in columns)])
        + " \\\\",
        "\\midrule",
    ]
    previous_group = None
    for row in document["rows"]:
        rank = row["rank"]
        group = row.get("tie_group")
        if rank is None:
            rank_cell = "--"
        elif group is not None and group == previous_group:
            rank_cell = f"={group}"
        else:
            rank_cell = str(group if group is not None else rank)
        previous_group = group if rank is not None else previous_group
        cells = [rank_cell, _latex(row["team"] or "baseline"), _latex(row["method_name"])]
        for name in columns:
            value = row["scores"].get(name)
            if value is None:
                cells.append("--")
                continue
            bounds = row.get("intervals", {}).get(name)
            text = f"{value:.{precision[name]}f}"
            if bounds:
                text += f" $\\pm$ {(bounds[1] - bounds[0]) / 2:.{precision[name]}f}"
            cells.append(text)
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    if method:
        lines.append(
            "% "
            + _comment(
                f"± half the {round(100 * float(method.get('level', 0.95)))}% bootstrap interval "
                f"({method.get('resamples')} resamples by {method.get('unit')}, seed {method.get('seed')}); "
                "a rank marked = is statistically tied with the row above (paired bootstrap, p >= 0.05)."
            )
        )
    return "\n".join(lines) + "\n"


def _versions_line(document: Mapping[str, Any]) -> str:
    versions = document.get("versions", {})
    judge = document.get("judge") or {}
    parts = [f"{key} {value}" for key, value in versions.items() if value]
    if judge.get("model"):
        parts.append(f"judge {judge['model']} ({judge.get('signature', '')})")
    return "; ".join(parts)


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


#: Characters a spreadsheet reads as the start of a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _yes_no(value: bool | None) -> str:
    """A method tag in a CSV cell: yes, no, or empty when the team did not say."""
    return "" if value is None else ("yes" if value else "no")


def _text(value: str) -> str:
    """User text in a CSV cell: a leading formula character is quoted away, so no spreadsheet evaluates it."""
    value = value or ""
    return "'" + value if value.startswith(_FORMULA_START) else value


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_PATTERN = re.compile("|".join(re.escape(char) for char in _LATEX_SPECIAL))


def _latex(text: str) -> str:
    """User text in a LaTeX cell: special characters escaped, line breaks made spaces."""
    text = " ".join((text or "").split())
    return _LATEX_PATTERN.sub(lambda match: _LATEX_SPECIAL[match.group()], text)


def _comment(text: str) -> str:
    return " ".join(text.split())


def csv_rows(text: str) -> Sequence[dict[str, str]]:
    """A board CSV read back: one dict per row (for tests and scripts)."""
    return list(csv.DictReader(io.StringIO(text)))
