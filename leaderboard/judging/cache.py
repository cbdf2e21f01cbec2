"""The evaluation package's judge cache, kept in the service's database."""

from __future__ import annotations

from collections.abc import Iterable

from evaluation.judge import CacheEntry

from .models import JudgeAnswer

_CHUNK = 500


class DatabaseJudgeCache:
    def get_many(self, keys: Iterable[str]) -> dict[str, CacheEntry]:
        keys = list(keys)
        found = {}
        for start in range(0, len(keys), _CHUNK):
            for answer in JudgeAnswer.objects.filter(key__in=keys[start : start + _CHUNK]):
                found[answer.key] = CacheEntry(
                    key=answer.key,
                    stage=answer.stage,
                    model=answer.model,
                    template_hash=answer.template_hash,
                    parser=answer.parser,
                    scores=answer.scores,
                    raw_text=answer.raw_text,
                    prompt_tokens=answer.prompt_tokens,
                    completion_tokens=answer.completion_tokens,
                )
        return found

    def put_many(self, entries: Iterable[CacheEntry]) -> None:
        # Two runs may judge the same narration at once; the first answer stays.
        JudgeAnswer.objects.bulk_create(
            [
                JudgeAnswer(
                    key=entry.key,
                    stage=entry.stage,
                    model=entry.model,
                    template_hash=entry.template_hash,
                    parser=entry.parser,
                    scores=entry.scores,
                    raw_text=entry.raw_text,
                    prompt_tokens=entry.prompt_tokens,
                    completion_tokens=entry.completion_tokens,
                )
                for entry in entries
            ],
            ignore_conflicts=True,
        )
