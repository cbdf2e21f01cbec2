"""Judging a split: every clip asked once per stage, cached, retried, aggregated.

Per clip, L1 = (environment + character) / 2. Over the split, ``l1_environment``,
``l1_character``, ``l1`` and ``l2`` are means on the 0-5 scale, and they exist
only when every clip has a valid judgment: a split with holes has no stage
scores, only the count of what failed. Running again asks only what is not in
the cache, which is exactly the failed judgments.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Any

from ..metrics import STAGE_METRICS
from .cache import CacheEntry, JudgeCache, MemoryJudgeCache, cache_key
from .client import ChatClient, EndpointRefused, TransportFailure
from .config import JudgeConfig
from .parsing import AnswerError, parse_answer
from .prompts import STAGES, Template, templates_for
from .protocol import JUDGE_PROTOCOL

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class JudgmentFailure:
    clip_id: str
    stage: str
    reason: str
    #: The judge's last unreadable answer. It may quote the reference: organizers only.
    raw_text: str = field(default="", repr=False)

    def to_dict(self) -> dict[str, str]:
        return {"clip_id": self.clip_id, "stage": self.stage, "reason": self.reason, "raw_text": self.raw_text}


@dataclass
class JudgeAccounting:
    #: HTTP requests made, retries included.
    calls: int = 0
    cache_hits: int = 0
    #: Transport retries (429, 5xx, timeouts, connection errors).
    retries: int = 0
    #: Questions asked again because the answer could not be read.
    reasks: int = 0
    #: Judgments that have no valid answer at the end of the run.
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class JudgeIdentity:
    """What makes two judged results comparable, with one signature naming it all.

    The protocol is in it: the same model and prompts under other parsing or aggregation rules
    give numbers that must not be ranked together. Stored and published as :meth:`as_dict`
    (``JudgeResult.judge``, the service's JSON fields and API); :meth:`from_dict` reads it back.
    """

    model: str = ""
    temperature: float = 0.0
    #: stage -> {"template": its hash, "parser": its parser}
    stages: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    protocol: str = ""
    #: "sha256:..." over the rest; empty when nothing was judged.
    signature: str = ""

    @classmethod
    def of(cls, model: str, temperature: float, templates: Mapping[str, Template]) -> JudgeIdentity:
        stages = {stage: {"template": templates[stage].hash, "parser": templates[stage].parser} for stage in STAGES}
        canonical = json.dumps(
            {"model": model, "temperature": float(temperature), "stages": stages, "protocol": JUDGE_PROTOCOL},
            sort_keys=True,
        )
        return cls(
            model=model,
            temperature=float(temperature),
            stages=stages,
            protocol=JUDGE_PROTOCOL,
            signature="sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "temperature": self.temperature,
            "stages": {stage: dict(info) for stage, info in self.stages.items()},
            "protocol": self.protocol,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> JudgeIdentity:
        """An identity stored as :meth:`as_dict`. Other keys (a run's endpoint) are ignored; missing
        ones are empty, as in a run or result that was never judged (``{}``)."""
        data = data or {}
        return cls(
            model=data.get("model", ""),
            temperature=data.get("temperature", 0.0),
            stages=data.get("stages", {}),
            protocol=data.get("protocol", ""),
            signature=data.get("signature", ""),
        )


def judge_identity(model: str, temperature: float, templates: Mapping[str, Template]) -> dict[str, Any]:
    """:class:`JudgeIdentity` as the dict ``JudgeResult.judge`` holds."""
    return JudgeIdentity.of(model, temperature, templates).as_dict()


@dataclass(frozen=True)
class JudgeResult:
    language: str
    clips: int
    judged_clips: int
    #: The stage scores over the split; empty unless every clip has a valid judgment.
    metrics: dict[str, float]
    #: clip id -> stage metric -> value, for the judged clips. Never publish for a hidden split.
    per_clip: dict[str, dict[str, float]] = field(repr=False)
    failures: tuple[JudgmentFailure, ...] = field(repr=False)
    accounting: dict[str, int]
    #: Model, temperature, template hashes and parsers, and their signature.
    judge: dict[str, Any]
    #: Set when the endpoint refused every request (wrong key, model or URL).
    stopped_because: str
    versions: dict[str, str]
    duration_seconds: float

    @property
    def complete(self) -> bool:
        return self.judged_clips == self.clips and not self.failures

    def to_dict(self, *, include_per_clip: bool = False, include_failures: bool = True) -> dict[str, Any]:
        data = {
            "language": self.language,
            "status": "complete" if self.complete else "incomplete",
            "clips": self.clips,
            "judged_clips": self.judged_clips,
            "failed_judgments": len(self.failures),
            "metrics": dict(self.metrics),
            "accounting": dict(self.accounting),
            "judge": self.judge,
            "stopped_because": self.stopped_because,
            "versions": dict(self.versions),
            "duration_seconds": self.duration_seconds,
        }
        if include_failures:
            data["failures"] = [failure.to_dict() for failure in self.failures]
        if include_per_clip:
            data["per_clip"] = self.per_clip
        return data


def aggregate(answers: Mapping[str, Mapping[str, Mapping[str, int]]]) -> tuple[dict[str, float], dict[str, dict]]:
    """Per-clip stage scores and their means from ``{clip: {"l1": {...}, "l2": {...}}}``."""
    per_clip = {}
    for clip_id, stages in answers.items():
        environment, character = stages["l1"]["environment"], stages["l1"]["character"]
        per_clip[clip_id] = {
            "l1_environment": float(environment),
            "l1_character": float(character),
            "l1": (environment + character) / 2,
            "l2": float(stages["l2"]["plot"]),
        }
    if not per_clip:
        return {}, per_clip
    metrics = {name: math.fsum(scores[name] for scores in per_clip.values()) / len(per_clip) for name in STAGE_METRICS}
    return metrics, per_clip


@dataclass
class _ClipOutcome:
    clip_id: str
    entries: list[CacheEntry] = field(default_factory=list)
    failures: list[JudgmentFailure] = field(default_factory=list)
    accounting: JudgeAccounting = field(default_factory=JudgeAccounting)
    refusal: str = ""


def _judge_clip(
    client: ChatClient, clip_id: str, jobs: list[tuple[str, str, list[dict], Template]], stop: threading.Event
) -> _ClipOutcome:
    """Ask every pending stage of one clip. Runs in a worker thread; touches nothing shared but ``stop``."""
    config = client.config
    outcome = _ClipOutcome(clip_id)
    counts = outcome.accounting
    for stage, key, messages, template in jobs:
        last_error, raw_text = "", ""
        for attempt in range(config.answer_attempts):
            if stop.is_set():
                last_error = "not asked: the run stopped"
                break
            if attempt:
                counts.reasks += 1
            try:
                completion = client.complete(messages, want_json=template.parser == "json")
            except TransportFailure as exc:
                counts.calls += exc.calls
                counts.retries += exc.retries
                last_error = f"the judge did not answer: {exc.reason}"
                break
            except EndpointRefused as exc:
                counts.calls += exc.calls
                counts.retries += exc.retries
                outcome.refusal = last_error = str(exc)
                stop.set()
                break
            except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen fault fails this judgment, not the run
                last_error = f"the judgment failed unexpectedly: {type(exc).__name__}: {exc}"[:500]
                break
            counts.calls += completion.calls
            counts.retries += completion.retries
            counts.prompt_tokens += completion.prompt_tokens
            counts.completion_tokens += completion.completion_tokens
            raw_text = completion.text
            try:
                scores = parse_answer(completion.text, stage, template.parser)
            except AnswerError as exc:
                last_error = f"unreadable answer after {attempt + 1} ask(s): {exc}"
                continue
            except Exception as exc:  # noqa: BLE001 - a parser bug fails this judgment; re-asking would hit it again
                last_error = f"the judgment failed unexpectedly: {type(exc).__name__}: {exc}"[:500]
                break
            outcome.entries.append(
                CacheEntry(
                    key=key,
                    stage=stage,
                    model=config.model,
                    template_hash=template.hash,
                    parser=template.parser,
                    scores=scores,
                    raw_text=completion.text,
                    prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens,
                )
            )
            break
        if not outcome.entries or outcome.entries[-1].key != key:
            outcome.failures.append(JudgmentFailure(clip_id, stage, last_error, raw_text))
    return outcome


def _take_finished(finished: SimpleQueue[Future[_ClipOutcome]]) -> list[Future[_ClipOutcome]]:
    """Wait for one clip to finish, and take every other one that finished meanwhile."""
    done = [finished.get()]
    while True:
        try:
            done.append(finished.get_nowait())
        except Empty:
            return done


def run_judge(
    references: Mapping[str, str],
    predictions: Mapping[str, str],
    language: str,
    config: JudgeConfig,
    *,
    templates: Mapping[str, Template] | None = None,
    cache: JudgeCache | None = None,
    progress: Progress | None = None,
    client: ChatClient | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_accounting: Callable[[dict[str, int]], None] | None = None,
) -> JudgeResult:
    """Judge every clip of ``references`` (a missing prediction is judged as an empty narration).

    ``progress(judged_clips, total_clips)`` is called from this thread as clips finish.
    ``should_stop()`` is asked before each clip is submitted: once it returns True, nothing more
    is asked, the clips in flight finish (their answers are cached), and the result says
    ``stopped_because="stopped by the caller"``. ``on_accounting(increments)`` is called from
    this thread with the accounting as it accrues: the cache hits once, then each clip's calls,
    retries, re-asks and tokens as soon as the clip finishes, so a caller that is interrupted
    still knows what was spent.
    """
    from .. import __version__

    started = time.perf_counter()
    templates = dict(templates or templates_for(language))
    cache = cache if cache is not None else MemoryJudgeCache()
    clip_ids = sorted(references)
    keys = {
        (clip_id, stage): cache_key(
            config.model, templates[stage], references[clip_id], predictions.get(clip_id, ""), config.temperature
        )
        for clip_id in clip_ids
        for stage in STAGES
    }
    cached = cache.get_many(set(keys.values()))
    answers: dict[str, dict[str, dict[str, int]]] = {clip_id: {} for clip_id in clip_ids}
    accounting = JudgeAccounting()
    pending: dict[str, list] = {}
    for (clip_id, stage), key in keys.items():
        if key in cached:
            answers[clip_id][stage] = cached[key].scores
            accounting.cache_hits += 1
        else:
            template = templates[stage]
            messages = template.messages(references[clip_id], predictions.get(clip_id, ""))
            pending.setdefault(clip_id, []).append((stage, key, messages, template))

    # Counted as clips finish, not recounted over the split at every progress report.
    judged = sum(1 for stages in answers.values() if len(stages) == len(STAGES))
    failures: list[JudgmentFailure] = []
    refusal = ""
    stopped_by_caller = False
    if on_accounting:
        on_accounting({"cache_hits": accounting.cache_hits})
    if progress:
        progress(judged, len(clip_ids))
    if pending:
        own_client = client is None
        client = client or ChatClient(config)
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="judge")
        try:
            # Submit as slots free up, so a stop leaves the rest unasked, not queued.
            queue = iter(pending.items())
            # Each clip's future lands here when it is done: one queue operation a clip, where waiting on
            # the set of running futures would lock every one of them for every clip that finishes.
            finished: SimpleQueue[Future[_ClipOutcome]] = SimpleQueue()
            running = 0
            while True:
                while running < config.concurrency and not stop.is_set() and not stopped_by_caller:
                    if should_stop is not None and should_stop():
                        stopped_by_caller = True
                        break
                    item = next(queue, None)
                    if item is None:
                        break
                    pool.submit(_judge_clip, client, item[0], item[1], stop).add_done_callback(finished.put)
                    running += 1
                if not running:
                    break
                outcomes = [future.result() for future in _take_finished(finished)]
                running -= len(outcomes)
                for outcome in outcomes:
                    if on_accounting:
                        on_accounting(outcome.accounting.to_dict())
                    for entry in outcome.entries:
                        answers[outcome.clip_id][entry.stage] = entry.scores
                    if len(answers[outcome.clip_id]) == len(STAGES):
                        judged += 1
                    failures.extend(outcome.failures)
                    refusal = refusal or outcome.refusal
                    for name, value in outcome.accounting.to_dict().items():
                        setattr(accounting, name, getattr(accounting, name) + value)
                # One write for every clip that finished meanwhile (a database round trip in the service).
                cache.put_many([entry for outcome in outcomes for entry in outcome.entries])
                if progress:
                    progress(judged, len(clip_ids))
            failed = {(failure.clip_id, failure.stage) for failure in failures}
            for clip_id, jobs in pending.items():
                for stage, *_ in jobs:
                    if stage not in answers[clip_id] and (clip_id, stage) not in failed:
                        failures.append(
                            JudgmentFailure(clip_id, stage, f"not asked: {refusal or 'stopped by the caller'}")
                        )
        finally:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            if own_client:
                client.close()

    failures.sort(key=lambda failure: (failure.clip_id, failure.stage))
    accounting.failures = len(failures)
    complete_answers = {clip_id: stages for clip_id, stages in answers.items() if len(stages) == len(STAGES)}
    metrics, per_clip = aggregate(complete_answers)
    if len(complete_answers) != len(clip_ids):
        metrics = {}
    return JudgeResult(
        language=language,
        clips=len(clip_ids),
        judged_clips=len(complete_answers),
        metrics=metrics,
        per_clip=per_clip,
        failures=tuple(failures),
        accounting=accounting.to_dict(),
        judge=judge_identity(config.model, config.temperature, templates),
        stopped_because=refusal or ("stopped by the caller" if stopped_by_caller else ""),
        versions={"evaluation": __version__, "judge_protocol": JUDGE_PROTOCOL},
        duration_seconds=time.perf_counter() - started,
    )
