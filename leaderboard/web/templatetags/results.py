"""The submission page's result history (``templates/web/_result_history.html``): every result of a
submission (its re-scores), newest first, with the primary scores as the viewer may see them."""

from django import template
from django.utils.safestring import mark_safe

from leaderboard.boards.disclosure import disclosed_scores
from leaderboard.challenges.texts import chinese_active
from leaderboard.submissions import rules, selectors
from leaderboard.web.results_views import label, shown

register = template.Library()


@register.simple_tag
def result_history(submission, viewer) -> dict:
    """``{"metrics": [{name, label}], "results": [{result, current, reference_hash, scores: [text]}]}`` for
    ``viewer``, who may see ``submission`` (the page checked); empty results for anyone else."""
    if not rules.can_view_submission(viewer, submission):
        return {"metrics": [], "results": []}
    phase = submission.phase
    results = selectors.result_history(submission)
    metrics = selectors.history_metrics(phase, results)
    rows = []
    for result in results:
        scores = disclosed_scores(result.metrics or {}, phase, viewer)
        rows.append(
            {
                "result": result,
                "current": result.pk == submission.current_result_id,
                "reference_hash": result.reference_hash[:12],
                "scores": [shown(scores.get(name), name) for name in metrics],
            }
        )
    return {"metrics": [{"name": name, "label": label(name)} for name in metrics], "results": rows}


@register.filter
def chinese_lang(text) -> str:
    """`` lang="zh"`` for a text written in Chinese characters (a film's title) on a page in another language,
    else nothing: ``<td{{ title|chinese_lang }}>``, so that a screen reader reads it in a Chinese voice."""
    if isinstance(text, str) and not chinese_active() and any("\u3400" <= char <= "\u9fff" for char in text):
        return mark_safe(' lang="zh"')
    return ""
