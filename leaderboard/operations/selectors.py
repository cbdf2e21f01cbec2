"""The status page: the queue, what runs, and the workers. Nothing here writes.

``public_status`` has only aggregate numbers, for everyone; ``organizer_status``
adds which submissions and judge runs are running, the oldest waiting one and
the live workers, for site-wide organizers (``rules.can_view_operations``).
Broker and worker answers are cached briefly, so the page stays fast however
often it is loaded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from statistics import median

from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from leaderboard.judging.models import JudgeRun, JudgeStatus
from leaderboard.submissions.models import Status, Submission

from . import broker

#: Seconds the broker's and the workers' answers are reused.
CACHE_SECONDS = 10
CACHE_KEY = "operations:broker-snapshot"
#: The typical wait is the median over the submissions started in this window (at most TYPICAL_WAIT_SAMPLE).
TYPICAL_WAIT_WINDOW = timedelta(days=7)
TYPICAL_WAIT_SAMPLE = 200
#: Every submission is scored on this queue (settings.CELERY_TASK_ROUTES).
SUBMISSION_QUEUE = "classic"


# -- a participant's place --------------------------------------------------------


def queue_position(submission: Submission) -> int | None:
    """1 + the submissions still waiting that were created before this one; None when it is not waiting.

    Every submission is scored on the ``classic`` queue, in the order it was created.
    """
    if submission.status != Status.SUBMITTED:
        return None
    ahead = Submission.objects.filter(status=Status.SUBMITTED).filter(
        Q(created_at__lt=submission.created_at) | Q(created_at=submission.created_at, pk__lt=submission.pk)
    )
    return 1 + ahead.count()


# -- broker and workers -----------------------------------------------------------


@dataclass(frozen=True)
class BrokerSnapshot:
    #: queue -> messages waiting; None when the broker cannot be reached.
    queue_depths: dict[str, int] | None
    #: None when unknown (broker unreachable).
    workers: list[broker.WorkerInfo] | None
    taken_at: datetime


def broker_snapshot(*, refresh: bool = False, with_workers: bool = True) -> BrokerSnapshot:
    """Queue depths and (for organizers) live workers, at most CACHE_SECONDS old.

    Only the depths are read for the public summary: a visitor's page load must
    not broadcast an inspect request to every worker.
    """
    snapshot = None if refresh else cache.get(CACHE_KEY)
    if snapshot is None or (with_workers and snapshot.workers is None and snapshot.queue_depths is not None):
        depths = broker.queue_depths()
        workers = broker.live_workers() if with_workers and depths is not None else None
        snapshot = BrokerSnapshot(queue_depths=depths, workers=workers, taken_at=timezone.now())
        cache.set(CACHE_KEY, snapshot, CACHE_SECONDS)
    return snapshot


# -- the summaries ----------------------------------------------------------------


def duration(seconds: int | None) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``, ``2 d 4 h``; an en dash when unknown."""
    if seconds is None:
        return "–"
    if seconds < 120:
        return _("%(seconds)d s") % {"seconds": seconds}
    minutes = seconds // 60
    if minutes < 120:
        return _("%(minutes)d min") % {"minutes": minutes}
    hours = minutes // 60
    if hours < 48:
        return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes % 60}
    return _("%(days)d d %(hours)d h") % {"days": hours // 24, "hours": hours % 24}


def _seconds(since: datetime | None, now: datetime) -> int | None:
    return None if since is None else max(0, int((now - since).total_seconds()))


def typical_wait_seconds(now: datetime | None = None) -> int | None:
    """The median time from upload to the start of scoring, over recently started submissions."""
    now = now or timezone.now()
    started = (
        Submission.objects.filter(started_at__gte=now - TYPICAL_WAIT_WINDOW, started_at__isnull=False)
        .order_by("-started_at")
        .values_list("created_at", "started_at")[:TYPICAL_WAIT_SAMPLE]
    )
    waits = [max(0.0, (started_at - created_at).total_seconds()) for created_at, started_at in started]
    return int(median(waits)) if waits else None


@dataclass(frozen=True)
class PublicStatus:
    queue_depths: dict[str, int] | None
    waiting: int
    running: int
    judging: int
    typical_wait_seconds: int | None
    checked_at: datetime

    @property
    def typical_wait(self) -> str:
        return duration(self.typical_wait_seconds)


def public_status() -> PublicStatus:
    """What anyone may see: counts only, no team, user or submission."""
    snapshot = broker_snapshot(with_workers=False)
    counts = {row["status"]: row["n"] for row in _status_counts()}
    return PublicStatus(
        queue_depths=snapshot.queue_depths,
        waiting=counts.get(Status.SUBMITTED, 0),
        running=counts.get(Status.RUNNING, 0),
        judging=JudgeRun.objects.filter(status__in=(JudgeStatus.QUEUED, JudgeStatus.RUNNING)).count(),
        typical_wait_seconds=typical_wait_seconds(),
        checked_at=snapshot.taken_at,
    )


def _status_counts():
    return (
        Submission.objects.filter(status__in=(Status.SUBMITTED, Status.RUNNING))
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
    )


@dataclass(frozen=True)
class RunningItem:
    submission_id: int
    team: str
    phase: str
    language: str
    age_seconds: int | None
    #: Judge runs only.
    run_id: int | None = None
    progress: str = ""

    @property
    def age(self) -> str:
        return duration(self.age_seconds)


@dataclass(frozen=True)
class OrganizerStatus:
    public: PublicStatus
    running_submissions: list[RunningItem]
    running_judge_runs: list[RunningItem]
    oldest_waiting: RunningItem | None
    workers: list[broker.WorkerInfo] | None
    judge_queued: int = 0


def organizer_status() -> OrganizerStatus:
    now = timezone.now()
    snapshot = broker_snapshot()
    running = [
        RunningItem(s.pk, s.team.name, str(s.phase), s.language, _seconds(s.started_at, now))
        for s in Submission.objects.filter(status=Status.RUNNING)
        .select_related("team", "phase__challenge")
        .order_by("started_at", "pk")
    ]
    judge_runs = [
        RunningItem(
            run.submission_id,
            run.submission.team.name,
            str(run.submission.phase),
            run.submission.language,
            _seconds(run.started_at, now),
            run_id=run.pk,
            progress=f"{run.judged_clips}/{run.total_clips}",
        )
        for run in JudgeRun.objects.filter(status=JudgeStatus.RUNNING)
        .select_related("submission__team", "submission__phase__challenge")
        .defer("failures")
        .order_by("started_at", "pk")
    ]
    oldest = (
        Submission.objects.filter(status=Status.SUBMITTED)
        .select_related("team", "phase__challenge")
        .order_by("created_at", "pk")
        .first()
    )
    return OrganizerStatus(
        public=public_status(),
        running_submissions=running,
        running_judge_runs=judge_runs,
        oldest_waiting=RunningItem(
            oldest.pk, oldest.team.name, str(oldest.phase), oldest.language, _seconds(oldest.created_at, now)
        )
        if oldest
        else None,
        workers=snapshot.workers,
        judge_queued=JudgeRun.objects.filter(status=JudgeStatus.QUEUED).count(),
    )


def as_data(status: PublicStatus | OrganizerStatus) -> dict:
    """The status as plain JSON-ready data, for the API."""
    return asdict(status)
