"""One way to change a status: a conditional UPDATE checked against a state machine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone


class IllegalTransition(Exception):
    pass


def conditional_transition(
    model: type[models.Model],
    edges: Mapping[str, frozenset[str]],
    pk: int,
    from_statuses: str | tuple[str, ...],
    to_status: str,
    *,
    condition: Q | None = None,
    **changes: Any,
) -> bool:
    """Move row ``pk`` to ``to_status`` if it is in one of ``from_statuses`` (and meets ``condition``).

    Returns whether this call made the change. The check and the write are
    one ``UPDATE ... WHERE status IN (...)``, so concurrent callers cannot both
    succeed, and a task delivered twice does its work once.
    """
    if isinstance(from_statuses, str):
        from_statuses = (from_statuses,)
    for status in from_statuses:
        if to_status not in edges[status]:
            raise IllegalTransition(f"{model.__name__}: {status} -> {to_status} is not an edge of the state machine")
    query = model._default_manager.filter(pk=pk, status__in=from_statuses)
    if condition is not None:
        query = query.filter(condition)
    return query.update(status=to_status, updated_at=timezone.now(), **changes) == 1
