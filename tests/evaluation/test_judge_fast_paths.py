"""The judge's fast paths (issue 13) keep its behaviour: what is read from a response, what is
cached, what progress says, and how prompts are filled.

The client reads the endpoint's JSON itself instead of through the openai package's models; the
runner learns of finished clips from a queue and writes their answers to the cache in batches;
templates cut their texts at the placeholders once. Everything here runs against the real loopback
judge (tests/support/judge_server.py) and compares with numbers computed independently.
"""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.judge import MemoryJudgeCache, Template, cache_key, run_judge, templates_for
from tests.support.judge_server import FakeJudge, Fault, JudgeProcess, expected_stage_metrics, json_answer

MODEL = "fake-judge-1"


def config_for(judge, **changes):
    from evaluation.judge import JudgeConfig

    return JudgeConfig(**({"base_url": judge.base_url, "model": MODEL, "backoff_base": 0.01} | changes))


def completion(content, usage) -> bytes:
    """A chat completion body with this message content and usage, as the endpoint sends it."""
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            **({} if usage is ... else {"usage": usage}),
        }
    ).encode()


def one_clip():
    return {"c": "[Ann] opens the door."}, {"c": "Someone opens a door."}


def test_token_counts_are_read_as_the_endpoint_reports_them_however_loosely():
    references, predictions = one_clip()
    usages = [
        ({"prompt_tokens": 120, "completion_tokens": 9}, (120, 9)),
        ({"prompt_tokens": "41", "completion_tokens": "7"}, (41, 7)),  # numbers as strings
        ({"prompt_tokens": 33.0, "completion_tokens": None}, (33, 0)),
        ({"prompt_tokens": "many", "completion_tokens": -4}, (0, 0)),  # unreadable or negative: 0
        (None, (0, 0)),
        (..., (0, 0)),  # no usage at all
    ]
    with FakeJudge() as judge:
        for usage, (prompt_tokens, completion_tokens) in usages:
            judge.reset()
            judge.fault_rule = lambda prompt, index, usage=usage: Fault(body=completion(json_answer(prompt), usage))
            result = run_judge(references, predictions, "en", config_for(judge), cache=MemoryJudgeCache())
            assert result.complete, usage
            assert result.metrics == expected_stage_metrics(references, predictions, "en"), usage
            # Two requests (one per stage), each reporting the same usage.
            assert result.accounting["prompt_tokens"] == 2 * prompt_tokens, usage
            assert result.accounting["completion_tokens"] == 2 * completion_tokens, usage
            assert (result.accounting["calls"], result.accounting["retries"]) == (2, 0)


def test_a_response_without_a_message_object_is_retried_and_an_empty_content_is_re_asked():
    references, predictions = one_clip()
    prompt = templates_for("en")["l1"].messages(references["c"], predictions["c"])[-1]["content"]
    cases = {
        # No message object where one belongs: the transport's fault, retried.
        "bare string message": (b'{"choices": [{"index": 0, "message": "5"}]}', (1, 0)),
        "choices not a list": (b'{"choices": {"0": {"message": {"content": "x"}}}}', (1, 0)),
        "a list, not an object": (b"[1, 2]", (1, 0)),
        "not UTF-8": (b'{"choices": "\xff\xfe"}', (1, 0)),
        # A message whose content is not text is an empty answer: the parser refuses it, it is asked again.
        "null content": (completion(None, {"prompt_tokens": 1, "completion_tokens": 1}), (0, 1)),
        "numeric content": (completion(5, {"prompt_tokens": 1, "completion_tokens": 1}), (0, 1)),
    }
    with FakeJudge() as judge:
        for name, (body, (retries, reasks)) in cases.items():
            judge.reset()
            judge.clear_faults()
            judge.fail_prompt(prompt, Fault(body=body))
            result = run_judge(references, predictions, "en", config_for(judge))
            assert result.complete, name
            assert result.metrics == expected_stage_metrics(references, predictions, "en"), name
            assert (result.accounting["retries"], result.accounting["reasks"]) == (retries, reasks), name
            assert result.accounting["calls"] == judge.calls == 3, name


class RecordingCache(MemoryJudgeCache):
    def __init__(self):
        super().__init__()
        self.written: list[str] = []

    def put_many(self, entries):
        entries = list(entries)
        self.written += [entry.key for entry in entries]
        super().put_many(entries)


def synthetic_split(clips: int):
    references = {f"clip-{index:03d}": f"[Ann] opens door number {index}." for index in range(clips)}
    return references, {clip_id: f"Someone enters room {index}." for index, clip_id in enumerate(references)}


def test_every_answer_is_written_to_the_cache_once_and_a_failed_one_never():
    references, predictions = synthetic_split(40)
    templates = templates_for("en")
    failing = templates["l2"].messages(references["clip-007"], predictions["clip-007"])[-1]["content"]
    cache = RecordingCache()
    progress = []
    with FakeJudge(latency=0.01) as judge:
        judge.fail_prompt(failing, *[Fault(status=500)] * 3)
        result = run_judge(
            references,
            predictions,
            "en",
            config_for(judge, concurrency=8, max_retries=2),
            cache=cache,
            progress=lambda done, total: progress.append((done, total)),
        )
    answered = {
        cache_key(MODEL, templates[stage], references[clip_id], predictions[clip_id], 0.0)
        for clip_id in references
        for stage in ("l1", "l2")
        if (clip_id, stage) != ("clip-007", "l2")
    }
    assert sorted(cache.written) == sorted(answered)  # each once, the failed one never
    assert [(failure.clip_id, failure.stage) for failure in result.failures] == [("clip-007", "l2")]
    # Progress counts clips with every stage judged, from none to all but the failed one.
    assert progress[0] == (0, 40) and progress[-1] == (39, 40) == (result.judged_clips, result.clips)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_progress_starts_from_the_clips_the_cache_already_holds():
    references, predictions = synthetic_split(12)
    cache, progress = MemoryJudgeCache(), []
    with FakeJudge() as judge:
        first_half = {clip_id: references[clip_id] for clip_id in sorted(references)[:6]}
        run_judge(first_half, predictions, "en", config_for(judge), cache=cache)
        judge.reset()
        result = run_judge(
            references, predictions, "en", config_for(judge), cache=cache, progress=lambda *seen: progress.append(seen)
        )
    assert result.complete and judge.calls == 12 and result.accounting["cache_hits"] == 12
    assert progress[0] == (6, 12) and progress[-1] == (12, 12)


def one_pass_substitution(text: str, reference: str, prediction: str) -> str:
    """How templates were filled before: one regular-expression pass over the text."""
    values = {"reference": reference, "prediction": prediction}
    return re.sub(r"\{(reference|prediction)\}", lambda match: values[match.group(1)], text)


PIECES = st.lists(
    st.sampled_from(["{reference}", "{prediction}", "{", "}", "{reference", "prediction}", "{{reference}}", "\n"])
    | st.text(alphabet="ab {}参考", max_size=6),
    max_size=8,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(system=PIECES, user=PIECES, reference=PIECES, prediction=PIECES)
def test_templates_are_filled_exactly_as_one_substitution_pass_fills_them(system, user, reference, prediction):
    template = Template("l1", "en", system=system, user=user)
    expected = [{"role": "user", "content": one_pass_substitution(user, reference, prediction)}]
    if system:
        expected.insert(0, {"role": "system", "content": one_pass_substitution(system, reference, prediction)})
    assert template.messages(reference, prediction) == expected
    assert template.messages(reference, prediction) == expected  # and again, from the kept pieces


def test_the_builtin_templates_are_filled_as_one_substitution_pass_fills_them():
    for language in ("en", "zh"):
        for template in templates_for(language).values():
            messages = template.messages("[程勇] {prediction} opens", "{reference} 走进来")
            assert [message["content"] for message in messages] == [
                one_pass_substitution(text, "[程勇] {prediction} opens", "{reference} 走进来")
                for text in (template.system, template.user)
            ]


def test_a_judge_in_its_own_process_answers_and_counts_what_it_was_asked():
    references, predictions = synthetic_split(6)
    with JudgeProcess(latency=0.05) as judge:
        result = run_judge(references, predictions, "en", config_for(judge, concurrency=4))
        stats = judge.stats()
    assert result.complete and result.metrics == expected_stage_metrics(references, predictions, "en")
    assert stats["calls"] == result.accounting["calls"] == 12
    assert 1 <= stats["max_in_flight"] <= 4
