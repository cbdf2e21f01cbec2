"""The metrics' labels and explanations in the language of the request (evaluation/metrics.py has them in English)."""

from __future__ import annotations

from dataclasses import replace

from django.utils.translation import gettext

from evaluation.metrics import MetricInfo, metric_info


def shown_metric(name: str) -> MetricInfo:
    """``metric_info(name)`` with its label and description translated into the active language."""
    info = metric_info(name)
    return replace(
        info,
        label=gettext(info.label) if info.label else info.label,
        description=gettext(info.description) if info.description else info.description,
    )
