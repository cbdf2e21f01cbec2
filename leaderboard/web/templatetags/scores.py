from django import template

from evaluation.metrics import metric_info

register = template.Library()


@register.filter
def score(scores, metric: str) -> str:
    """A metric's value at its display precision, or an en dash when absent."""
    if not scores:
        return "–"
    value = scores.get(metric)
    if value is None:
        return "–"
    return f"{value:.{metric_info(metric).precision}f}"


@register.filter
def metric_label(metric: str) -> str:
    return metric_info(metric).label


@register.simple_tag
def metric(name: str):
    return metric_info(name)
