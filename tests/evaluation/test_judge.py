"""evaluation.judge without Django: the parser, the prompts, the client and run_judge.

The judge is a real HTTP server on loopback (tests/support/judge_server.py) answering
a pure function of each prompt, so every expected number below is computed
independently from the prompts, never read back from the code under test.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from fractions import Fraction

import httpx2 as httpx  # the transport of the pinned openai package: its Headers are what the client reads
import pytest

from evaluation.judge import (
    BUILTIN,
    STAGES,
    AnswerError,
    JudgeConfig,
    JudgeConfigError,
    MemoryJudgeCache,
    SqliteJudgeCache,
    Template,
    TemplateError,
    cache_key,
    judge_identity,
    parse_answer,
    run_judge,
    templates_for,
    templates_from_data,
)
from evaluation.judge.client import ChatClient, EndpointRefused, RateLimiter, retry_after_seconds
from evaluation.movie101v2 import read_split
from tests.support.data import DEMO_DATA, DEMO_PREDICTIONS
from tests.support.judge_server import FakeJudge, Fault, comma_answer, json_answer, scores_for

MODEL = "fake-judge-1"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    """The demo validation split in English: 10 clips and a team's narrations for them."""
    references = read_split(DEMO_DATA, "val", "en")
    predictions = json.loads((DEMO_PREDICTIONS / "val-en.json").read_text(encoding="utf-8"))
    assert len(references) == 10 and set(predictions) == set(references)
    return references, predictions


@pytest.fixture(scope="module")
def judge_server():
    # One server for the module: stopping one costs half a second (its serve_forever poll interval).
    with FakeJudge() as server:
        yield server


@pytest.fixture
def judge(judge_server):
    """The loopback judge, as if new: default answers, no faults, no recorded requests."""
    server = judge_server
    server.answer, server.latency, server.reject_response_format = json_answer, 0.0, False
    server.clear_faults()
    server.reset()
    return server


def config_for(judge: FakeJudge, **changes) -> JudgeConfig:
    """A judge config for the loopback server, with a tiny backoff so retries take milliseconds."""
    return JudgeConfig(**({"base_url": judge.base_url, "model": MODEL, "backoff_base": 0.01} | changes))


def prompt_of(template: Template, reference: str, prediction: str) -> str:
    """What the fake judge sees as the prompt: the (single) user message."""
    return template.messages(reference, prediction)[-1]["content"]


def expected_scores(references, predictions, templates) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The means and per-clip scores the fake judge's answers must give, computed exactly.

    Every per-clip value is a multiple of 1/2, so summing them in binary floating point is exact
    (math.fsum or not) and the mean is one correctly rounded division: the code under test must
    equal float(Fraction(total, clips)) bit for bit. That is why the comparisons below use ==.
    """
    per_clip: dict[str, dict[str, Fraction]] = {}
    for clip_id, reference in references.items():
        prediction = predictions.get(clip_id, "")
        l1 = scores_for(prompt_of(templates["l1"], reference, prediction))
        l2 = scores_for(prompt_of(templates["l2"], reference, prediction))
        per_clip[clip_id] = {
            "l1_environment": Fraction(l1["environment"]),
            "l1_character": Fraction(l1["character"]),
            "l1": Fraction(l1["environment"] + l1["character"], 2),
            "l2": Fraction(l2["plot"]),
        }
    clips = len(per_clip)
    means = {
        name: float(sum(scores[name] for scores in per_clip.values()) / clips)
        for name in ("l1_environment", "l1_character", "l1", "l2")
    }
    return means, {
        clip_id: {name: float(value) for name, value in scores.items()} for clip_id, scores in per_clip.items()
    }


def first_clip_prompt(references, predictions, stage="l1", language="en") -> tuple[str, str]:
    clip_id = sorted(references)[0]
    return clip_id, prompt_of(templates_for(language)[stage], references[clip_id], predictions[clip_id])


def synthetic_split(clips: int) -> tuple[dict[str, str], dict[str, str]]:
    references = {f"clip-{index:03d}": f"[Ann] opens door number {index} and walks in." for index in range(clips)}
    predictions = {clip_id: f"Someone enters room {index}." for index, clip_id in enumerate(references)}
    return references, predictions


# -- the parser ---------------------------------------------------------------------------------


def test_a_json_answer_inside_a_code_fence_is_read():
    assert parse_answer('```json\n{"environment": 3, "character": 4}\n```', "l1") == {"environment": 3, "character": 4}
    assert parse_answer('Here you go:\n```\n{"plot": 2}\n```\nThanks.', "l2") == {"plot": 2}


def test_a_json_answer_among_prose_is_read():
    text = 'After comparing both narrations, my verdict is {"environment": 1, "character": 5}. The names match.'
    assert parse_answer(text, "l1") == {"environment": 1, "character": 5}


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"environment": ３, "character": ４}', {"environment": 3, "character": 4}),
        ("｛“environment”：３，“character”：０｝", {"environment": 3, "character": 0}),
        ('{「environment」: 2, 「character」: "５"}', {"environment": 2, "character": 5}),
    ],
)
def test_full_width_digits_punctuation_and_curly_quotes_are_read(text, expected):
    assert parse_answer(text, "l1") == expected


def test_extra_keys_are_ignored_and_key_case_does_not_matter():
    text = '{"Reasoning": "close enough", "ENVIRONMENT": 2, " Character ": 3, "plot": 0, "confidence": 0.7}'
    assert parse_answer(text, "l1") == {"environment": 2, "character": 3}
    assert parse_answer('{"Plot": 4, "environment": 9}', "l2") == {"plot": 4}


@pytest.mark.parametrize(
    "value, expected", [("3.0", 3), ("0.00", 0), ('"4"', 4), ('" 5 "', 5), ('"2.0"', 2), ("1e0", 1), ('"５"', 5)]
)
def test_integral_floats_and_numeric_strings_are_accepted(value, expected):
    assert parse_answer(f'{{"plot": {value}}}', "l2") == {"plot": expected}


@pytest.mark.parametrize(
    "text, stage, reason",
    [
        ('{"plot": 6}', "l2", "outside 0-5"),
        ('{"plot": -1}', "l2", "outside 0-5"),
        ('{"environment": 3, "character": 7}', "l1", "outside 0-5"),
        ('{"plot": 3.5}', "l2", "not an integer"),
        ('{"plot": "3.5"}', "l2", "not an integer"),
        ('{"plot": true}', "l2", "not an integer"),
        ('{"plot": false}', "l2", "not an integer"),
        ('{"plot": null}', "l2", "not an integer"),
        ('{"plot": [3]}', "l2", "not an integer"),
        ('{"plot": "three"}', "l2", "not an integer"),
        ('{"environment": 3}', "l1", 'no "character"'),
        ('{"story": 3}', "l2", 'no "plot"'),
        ("", "l2", "empty"),
        ("  \n ", "l1", "empty"),
        ("I am unable to rate this narration.", "l2", "no JSON object"),
        ("{environment: 3, character: 4}", "l1", "no JSON object"),
        ("[3, 4]", "l1", "no JSON object"),
        ('{"plot": 1, "plot": 5}', "l2", 'gives "plot" more than once'),
        ('{"plot": 1, "Plot": 5}', "l2", 'gives "plot" more than once'),
        ('{"plot": 2} {"plot": 4}', "l2", "several JSON objects"),
    ],
)
def test_json_answers_that_are_not_valid_scores_are_refused(text, stage, reason):
    with pytest.raises(AnswerError, match=reason):
        parse_answer(text, stage)


@pytest.mark.parametrize(
    "text, stage, expected",
    [
        ("3,5", "l1", {"environment": 3, "character": 5}),
        ("３，５", "l1", {"environment": 3, "character": 5}),
        ("3, 5.", "l1", {"environment": 3, "character": 5}),
        ("0,0", "l1", {"environment": 0, "character": 0}),
        ("```\n2,4\n```", "l1", {"environment": 2, "character": 4}),
        ("4", "l2", {"plot": 4}),
        ("４", "l2", {"plot": 4}),
        ("5.", "l2", {"plot": 5}),
    ],
)
def test_comma_answers_of_the_released_protocol_are_read(text, stage, expected):
    assert parse_answer(text, stage, "comma") == expected


@pytest.mark.parametrize(
    "text, stage, reason",
    [
        ("3", "l1", "expected 2 number"),
        ("3,4,5", "l1", "expected 2 number"),
        ("3 and 5", "l1", "separated by a comma"),
        ("6,1", "l1", "outside 0-5"),
        ("3,-1", "l1", "outside 0-5"),
        ("3.5,4", "l1", "not an integer"),
        ("3,4", "l2", "expected 1 number"),
        ("7", "l2", "outside 0-5"),
        ("no idea", "l2", "expected 1 number"),
        ("", "l1", "empty"),
    ],
)
def test_comma_answers_that_are_ambiguous_or_out_of_range_are_refused(text, stage, reason):
    with pytest.raises(AnswerError, match=reason):
        parse_answer(text, stage, "comma")


@pytest.mark.parametrize(
    "text, stage, parser",
    [
        ('```json\n{"plot": 1}\n```\nOn reflection:\n```json\n{"plot": 5}\n```', "l2", "json"),
        ('```\n{"environment": 2, "character": 3}\n```\n```\n{"environment": 2, "character": 4}\n```', "l1", "json"),
        ('```\n{"plot": 1}\n```\n```\n{"plot": 7}\n```', "l2", "json"),
        ("```\n1\n```\nOn reflection:\n```\n5\n```", "l2", "comma"),
        ("```\n2,4\n```\n```\n2,5\n```", "l1", "comma"),
    ],
)
def test_an_answer_with_two_different_sets_of_scores_is_refused_in_either_parser(text, stage, parser):
    with pytest.raises(AnswerError, match="more than one set of scores"):
        parse_answer(text, stage, parser)


@pytest.mark.parametrize(
    "text, stage, parser, expected",
    [
        ('```json\n{"plot": 4}\n```\nAgain:\n```json\n{"plot": "4"}\n```', "l2", "json", {"plot": 4}),
        ('```\n{"reasoning": "similar"}\n```\n```\n{"plot": 2}\n```', "l2", "json", {"plot": 2}),
        ('Format: {"plot": <0-5>}.\n```json\n{"plot": 3}\n```', "l2", "json", {"plot": 3}),
        ("```\n3,5\n```\nSo:\n```\n3, 5.\n```", "l1", "comma", {"environment": 3, "character": 5}),
    ],
)
def test_one_set_of_scores_given_twice_or_beside_other_objects_is_read(text, stage, parser, expected):
    assert parse_answer(text, stage, parser) == expected


def test_a_fenced_comma_answer_is_read_from_its_fences_only():
    with pytest.raises(AnswerError, match="expected 1 number"):
        parse_answer("Clip 3:\n```\nunsure\n```", "l2", "comma")


def test_an_unknown_stage_or_parser_is_a_programming_error_not_an_unreadable_answer():
    with pytest.raises(ValueError, match="unknown stage") as stage_error:
        parse_answer('{"plot": 3}', "l3")
    with pytest.raises(ValueError, match="unknown parser") as parser_error:
        parse_answer('{"plot": 3}', "l2", "yaml")
    assert not isinstance(stage_error.value, AnswerError) and not isinstance(parser_error.value, AnswerError)


# -- the prompts ---------------------------------------------------------------------------------

TRICKY_REFERENCES = [
    'He whispers "{prediction}" and then {reference}; a {brace} } { and {{double}}.',
    "第一行：[林海]推开灯塔的门。\n第二行：他说“{reference}”，然后离开。",
    "{prediction}{reference}\n\n\t{0} %s {} \\n",
]
TRICKY_PREDICTIONS = [
    "{reference} is not the reference, {prediction} is not me.",
    "暴风雨来临前，{他}走上楼梯。\n{ }",
    "",
]


@pytest.mark.parametrize("stage, language", sorted(BUILTIN))
@pytest.mark.parametrize(
    "reference, prediction",
    list(zip(TRICKY_REFERENCES, TRICKY_PREDICTIONS, strict=True)),
    ids=["quotes-and-braces", "chinese-and-newlines", "placeholders-and-format-codes"],
)
def test_reference_and_prediction_are_put_in_verbatim_and_never_expanded_again(stage, language, reference, prediction):
    template = BUILTIN[(stage, language)]
    before, rest = template.user.split("{reference}")
    between, after = rest.split("{prediction}")
    messages = template.messages(reference, prediction)
    assert messages[0] == {"role": "system", "content": template.system}
    assert messages[-1] == {"role": "user", "content": before + reference + between + prediction + after}


def test_a_custom_template_with_the_prediction_first_is_filled_in_one_pass():
    template = Template("l2", "zh", system="", user="候选：{prediction}\n参考：{reference}\n{plot}")
    messages = template.messages("参考{prediction}", "候选{reference}")
    assert messages == [{"role": "user", "content": "候选：候选{reference}\n参考：参考{prediction}\n{plot}"}]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"user": "Reference: {reference} only"}, "templates.l1.zh.user: must contain the placeholder {prediction}"),
        ({"user": "Generated: {prediction} only"}, "templates.l1.zh.user: must contain the placeholder {reference}"),
        ({"user": "{ reference } and {Prediction}"}, "templates.l1.zh.user: must contain the placeholder {reference}"),
        ({"user": "   "}, "templates.l1.zh.user: the user message is empty"),
        ({"system": "x"}, "templates.l1.zh.user: the user message is empty"),
    ],
)
def test_a_template_missing_a_placeholder_is_refused_with_its_path(fields, message):
    with pytest.raises(TemplateError) as error:
        templates_from_data({"l1": {"zh": fields}})
    assert str(error.value).startswith(message)


GOOD_USER = "Reference: {reference}\nGenerated: {prediction}"


@pytest.mark.parametrize(
    "data, path",
    [
        ({"l3": {"en": {"user": GOOD_USER}}}, "templates.l3:"),
        ({"l1": {"fr": {"user": GOOD_USER}}}, "templates.l1.fr:"),
        ({"l2": {"en": {"user": GOOD_USER, "parser": "yaml"}}}, "templates.l2.en.parser:"),
        ({"l1": {"zh": {"user": GOOD_USER, "assistant": "ok"}}}, "templates.l1.zh: unknown field 'assistant'"),
        ({"l1": {"zh": {"user": GOOD_USER, "system": 42}}}, "templates.l1.zh.system:"),
        ({"l1": ["zh"]}, "templates.l1:"),
        ({"l1": {"zh": GOOD_USER}}, "templates.l1.zh:"),
    ],
)
def test_an_unknown_stage_language_parser_or_field_is_refused_with_its_path(data, path):
    with pytest.raises(TemplateError) as error:
        templates_from_data(data)
    assert str(error.value).startswith(path)


def test_valid_template_data_is_read_with_json_as_the_default_parser():
    templates = templates_from_data(
        {"l1": {"en": {"user": GOOD_USER}}, "l2": {"zh": {"user": GOOD_USER, "parser": "comma"}}}
    )
    assert templates == {
        ("l1", "en"): Template("l1", "en", system="", user=GOOD_USER, parser="json"),
        ("l2", "zh"): Template("l2", "zh", system="", user=GOOD_USER, parser="comma"),
    }
    assert templates_from_data(None) == {} and templates_from_data({}) == {}


def test_templates_for_takes_an_override_only_for_its_own_stage_and_language():
    override = templates_from_data({"l2": {"zh": {"user": GOOD_USER}}})
    assert templates_for("zh", override) == {"l1": BUILTIN[("l1", "zh")], "l2": override[("l2", "zh")]}
    assert templates_for("en", override) == {"l1": BUILTIN[("l1", "en")], "l2": BUILTIN[("l2", "en")]}


def test_the_template_hash_names_the_wording_and_the_parser_is_recorded_beside_it():
    original = BUILTIN[("l1", "en")]
    reworded = Template(original.stage, original.language, original.system, original.user + "\nBe strict.")
    resystemed = Template(original.stage, original.language, original.system + " ", original.user)
    comma = Template(original.stage, original.language, original.system, original.user, parser="comma")
    assert original.hash.startswith("sha256:") and len(original.hash) == len("sha256:") + 64
    assert len({original.hash, reworded.hash, resystemed.hash}) == 3
    assert comma.hash == original.hash
    # ...but the parser changes what a judgment is: it is in the identity and in the cache key.
    json_identity = judge_identity(MODEL, 0, {"l1": original, "l2": BUILTIN[("l2", "en")]})
    comma_identity = judge_identity(MODEL, 0, {"l1": comma, "l2": BUILTIN[("l2", "en")]})
    assert json_identity["stages"]["l1"] == {"template": original.hash, "parser": "json"}
    assert comma_identity["stages"]["l1"] == {"template": original.hash, "parser": "comma"}
    assert json_identity["signature"] != comma_identity["signature"]
    assert cache_key(MODEL, original, "r", "p", 0) != cache_key(MODEL, comma, "r", "p", 0)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_both_languages_have_builtin_templates_for_both_stages_that_ask_for_the_json_keys(language):
    for stage, keys in (("l1", ("environment", "character")), ("l2", ("plot",))):
        template = BUILTIN[(stage, language)]
        assert (template.stage, template.language, template.parser) == (stage, language, "json")
        assert template.user.count("{reference}") == 1 and template.user.count("{prediction}") == 1
        assert template.system.strip() and "JSON" in template.system
        for key in keys:
            assert f'"{key}"' in template.user
        assert ('"plot"' in template.user) == (stage == "l2")
        assert ('"environment"' in template.user) == (stage == "l1")
    templates_from_data({stage: {language: BUILTIN[(stage, language)].to_dict()} for stage in STAGES})


# -- run_judge against the loopback judge --------------------------------------------------------------


def test_the_stage_means_and_per_clip_scores_are_exactly_the_judges_answers(demo, judge):
    references, predictions = demo
    result = run_judge(references, predictions, "en", config_for(judge))
    metrics, per_clip = expected_scores(references, predictions, templates_for("en"))
    assert result.complete and result.failures == () and result.stopped_because == ""
    assert (result.clips, result.judged_clips) == (10, 10)
    assert result.metrics == metrics
    assert result.per_clip == per_clip
    assert result.accounting == {
        "calls": 20,
        "cache_hits": 0,
        "retries": 0,
        "reasks": 0,
        "failures": 0,
        "prompt_tokens": result.accounting["prompt_tokens"],
        "completion_tokens": result.accounting["completion_tokens"],
    }
    assert result.accounting["prompt_tokens"] > 0 and result.accounting["completion_tokens"] >= 20
    assert result.to_dict()["status"] == "complete"
    assert result.judge == judge_identity(MODEL, 0.0, templates_for("en"))


def test_each_judgment_is_one_request_at_temperature_0_in_json_mode(demo, judge):
    references, predictions = demo
    run_judge(references, predictions, "en", config_for(judge))
    assert judge.calls == 2 * len(references)
    templates = templates_for("en")
    asked = sorted(request.prompt for request in judge.requests)
    assert asked == sorted(
        prompt_of(templates[stage], references[clip_id], predictions[clip_id])
        for clip_id in references
        for stage in STAGES
    )
    for request in judge.requests:
        assert request.body["model"] == MODEL
        assert request.body["temperature"] == 0
        assert request.body["max_tokens"] == 256
        assert request.body["response_format"] == {"type": "json_object"}
        assert [message["role"] for message in request.body["messages"]] == ["system", "user"]


def test_a_missing_prediction_is_judged_as_an_empty_narration(judge):
    references = {"a": "[Ann] waves.", "b": "[Bo] sits down."}
    result = run_judge(references, {"a": "Ann waves."}, "en", config_for(judge))
    assert result.complete
    assert result.per_clip == expected_scores(references, {"a": "Ann waves.", "b": ""}, templates_for("en"))[1]
    empty_prompt = prompt_of(BUILTIN[("l2", "en")], "[Bo] sits down.", "")
    assert empty_prompt in [request.prompt for request in judge.requests]


def test_narrations_with_braces_and_chinese_reach_the_judge_verbatim(judge):
    references = {f"c{index}": text for index, text in enumerate(TRICKY_REFERENCES)}
    predictions = {f"c{index}": text for index, text in enumerate(TRICKY_PREDICTIONS)}
    result = run_judge(references, predictions, "zh", config_for(judge))
    assert result.complete
    assert result.metrics == expected_scores(references, predictions, templates_for("zh"))[0]
    for request in judge.requests:
        clip = next(c for c in references if references[c] in request.prompt)
        assert predictions[clip] in request.prompt


def full_width_answer(prompt: str) -> str:
    return json_answer(prompt).translate(FULL_WIDTH).replace(",", "，").replace(":", "：")


#: A 200 with content-type application/json cut off mid-answer, as a dying proxy sends it.
TRUNCATED_BODY = b'{"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "message": {"ro'

#: fault for the first request of one judgment -> (retries, reasks, extra requests)
FAULTS = {
    "429 with Retry-After": (lambda prompt: Fault(status=429, headers={"Retry-After": "1"}), (1, 0, 1)),
    "500": (lambda prompt: Fault(status=500), (1, 0, 1)),
    "503 twice": (lambda prompt: [Fault(status=503), Fault(status=502)], (2, 0, 2)),
    "hang past the timeout": (lambda prompt: Fault(hang_seconds=3), (1, 0, 1)),
    "garbage text": (lambda prompt: Fault(text="I think it is quite good!"), (0, 1, 1)),
    "out of range": (lambda prompt: Fault(text='{"environment": 6, "character": -1}'), (0, 1, 1)),
    "a fraction": (lambda prompt: Fault(text='{"environment": 2.5, "character": 3}'), (0, 1, 1)),
    "full-width digits": (lambda prompt: Fault(text=full_width_answer(prompt)), (0, 0, 0)),
    # A 200 the package cannot read is a transport fault (retried), not an answer (re-asked).
    "a truncated JSON body": (lambda prompt: Fault(body=TRUNCATED_BODY), (1, 0, 1)),
    "a body without choices": (
        lambda prompt: Fault(body=b'{"id": "chatcmpl-x", "object": "chat.completion"}'),
        (1, 0, 1),
    ),
}


@pytest.mark.parametrize("kind", list(FAULTS))
def test_a_transient_fault_is_recovered_with_the_same_numbers_and_counted(demo, judge, kind):
    references, predictions = demo
    make_fault, (retries, reasks, extra) = FAULTS[kind]
    clip_id, prompt = first_clip_prompt(references, predictions)
    faults = make_fault(prompt)
    judge.fail_prompt(prompt, *(faults if isinstance(faults, list) else [faults]))
    # A one-second timeout for the hang; then at most 4 connections at once, since the loopback server's listen
    # backlog is 5 and a dropped SYN is resent after a second, which would time out a connect too.
    timing = {"timeout": 1.0, "concurrency": 4} if kind == "hang past the timeout" else {}
    result = run_judge(references, predictions, "en", config_for(judge, **timing))

    assert result.complete and result.failures == ()
    assert result.metrics == expected_scores(references, predictions, templates_for("en"))[0]
    assert result.per_clip[clip_id] == expected_scores(references, predictions, templates_for("en"))[1][clip_id]
    assert judge.calls == 2 * len(references) + extra
    assert result.accounting["calls"] == judge.calls
    assert (result.accounting["retries"], result.accounting["reasks"]) == (retries, reasks)
    assert result.accounting["failures"] == 0
    asked = [request for request in judge.requests if request.prompt == prompt]
    assert len(asked) == 1 + extra
    assert asked[-1].answered_with in (json_answer(prompt), full_width_answer(prompt))
    if kind == "429 with Retry-After":
        # The server asked for a second's pause: the retry must not come sooner (a lower bound only).
        assert asked[0].answered_with == "429"
        assert asked[1].received_at - asked[0].received_at >= 1.0
    if kind == "hang past the timeout":
        assert asked[0].answered_with == "hang"


@pytest.mark.parametrize("cache_kind", ["memory", "sqlite"])
def test_a_judgment_that_stays_unreadable_leaves_the_run_incomplete_and_a_resume_asks_only_it(
    demo, judge, tmp_path, cache_kind
):
    references, predictions = demo
    clip_id, prompt = first_clip_prompt(references, predictions, stage="l2")
    judge.fault_rule = lambda asked, index: Fault(text="Plot: quite good") if asked == prompt else None
    cache = MemoryJudgeCache() if cache_kind == "memory" else SqliteJudgeCache(tmp_path / "judge.sqlite3")
    config = config_for(judge)

    first = run_judge(references, predictions, "en", config, cache=cache)
    assert not first.complete and first.metrics == {}
    assert first.to_dict()["status"] == "incomplete"
    assert (first.clips, first.judged_clips) == (10, 9)
    assert [(failure.clip_id, failure.stage) for failure in first.failures] == [(clip_id, "l2")]
    assert "unreadable answer after 3 ask(s)" in first.failures[0].reason
    assert first.failures[0].raw_text == "Plot: quite good"
    assert clip_id not in first.per_clip and len(first.per_clip) == 9
    assert [request.prompt for request in judge.requests].count(prompt) == config.answer_attempts
    assert first.accounting["calls"] == judge.calls == 19 + config.answer_attempts
    assert (first.accounting["reasks"], first.accounting["failures"]) == (config.answer_attempts - 1, 1)

    judge.fault_rule = None
    judge.reset()
    if cache_kind == "sqlite":
        cache.close()
        cache = SqliteJudgeCache(tmp_path / "judge.sqlite3")
    resumed = run_judge(references, predictions, "en", config, cache=cache)
    assert [request.prompt for request in judge.requests] == [prompt]
    assert resumed.complete and (resumed.accounting["calls"], resumed.accounting["cache_hits"]) == (1, 19)
    metrics, per_clip = expected_scores(references, predictions, templates_for("en"))
    assert resumed.metrics == metrics and resumed.per_clip == per_clip


def test_a_judgment_that_keeps_failing_beyond_the_retries_fails_alone_and_a_resume_asks_only_it(demo, judge):
    references, predictions = demo
    clip_id, prompt = first_clip_prompt(references, predictions, stage="l1")
    config = config_for(judge, max_retries=2)
    judge.fail_prompt(prompt, *[Fault(status=500)] * (config.max_retries + 1))
    cache = MemoryJudgeCache()

    first = run_judge(references, predictions, "en", config, cache=cache)
    assert first.metrics == {} and first.judged_clips == 9
    assert [(failure.clip_id, failure.stage) for failure in first.failures] == [(clip_id, "l1")]
    assert "HTTP 500, 3 attempts" in first.failures[0].reason
    assert [request.prompt for request in judge.requests].count(prompt) == config.max_retries + 1
    # A transport failure is not re-asked as if the answer were unreadable.
    assert (first.accounting["retries"], first.accounting["reasks"]) == (config.max_retries, 0)
    assert first.accounting["calls"] == judge.calls == 19 + config.max_retries + 1

    judge.reset()
    resumed = run_judge(references, predictions, "en", config, cache=cache)
    assert [request.prompt for request in judge.requests] == [prompt]
    assert resumed.complete
    assert resumed.metrics == expected_scores(references, predictions, templates_for("en"))[0]


def test_a_body_that_stays_unreadable_fails_its_judgment_alone_with_a_clear_reason(demo, judge):
    references, predictions = demo
    clip_id, prompt = first_clip_prompt(references, predictions, stage="l2")
    config = config_for(judge, max_retries=1)
    judge.fault_rule = lambda asked, index: Fault(body=TRUNCATED_BODY) if asked == prompt else None

    result = run_judge(references, predictions, "en", config)

    assert result.metrics == {} and result.judged_clips == 9 and result.stopped_because == ""
    assert [(failure.clip_id, failure.stage) for failure in result.failures] == [(clip_id, "l2")]
    assert "the endpoint sent an unreadable response" in result.failures[0].reason
    assert "2 attempts" in result.failures[0].reason
    assert result.accounting["calls"] == judge.calls == 19 + config.max_retries + 1
    assert (result.accounting["retries"], result.accounting["reasks"]) == (config.max_retries, 0)


class SurprisingClient(ChatClient):
    """A client that raises what nobody planned for on one prompt: a bug, a new exception of the package."""

    def __init__(self, config: JudgeConfig, prompt: str, error: Exception):
        super().__init__(config)
        self.prompt, self.error = prompt, error

    def complete(self, messages, *, want_json):
        if messages[-1]["content"] == self.prompt:
            raise self.error
        return super().complete(messages, want_json=want_json)


def test_an_unexpected_exception_fails_one_judgment_and_never_aborts_the_run(demo, judge):
    references, predictions = demo
    clip_id, prompt = first_clip_prompt(references, predictions, stage="l1")
    config = config_for(judge)
    client = SurprisingClient(config, prompt, KeyError("choices"))
    try:
        result = run_judge(references, predictions, "en", config, client=client)
    finally:
        client.close()

    assert not result.complete and result.metrics == {} and result.judged_clips == 9
    assert [(failure.clip_id, failure.stage) for failure in result.failures] == [(clip_id, "l1")]
    assert "KeyError" in result.failures[0].reason and result.stopped_because == ""
    # The other 19 judgments were asked and answered; the surprise made no request.
    assert judge.calls == result.accounting["calls"] == 19 and result.accounting["failures"] == 1


def test_a_refusal_is_still_a_refusal_not_an_unexpected_failure(judge):
    references, predictions = synthetic_split(3)
    config = config_for(judge, concurrency=1)
    _, prompt = first_clip_prompt(references, predictions)
    client = SurprisingClient(config, prompt, EndpointRefused("the judge endpoint refused the request: HTTP 401"))
    try:
        result = run_judge(references, predictions, "en", config, client=client)
    finally:
        client.close()
    assert "HTTP 401" in result.stopped_because
    assert judge.calls == 0 and len(result.failures) == 6


def test_an_endpoint_that_refuses_the_key_stops_the_run_early(judge):
    references, predictions = synthetic_split(30)
    judge.fault_rule = lambda prompt, index: Fault(status=401)
    config = config_for(judge, concurrency=2)
    result = run_judge(references, predictions, "en", config)
    assert "HTTP 401" in result.stopped_because
    # Each thread in flight sees the refusal at most once; nothing else is asked.
    assert 1 <= judge.calls <= config.concurrency < 2 * len(references)
    assert result.accounting["calls"] == judge.calls and result.accounting["retries"] == 0
    assert result.metrics == {} and result.judged_clips == 0 and result.per_clip == {}
    assert sorted((failure.clip_id, failure.stage) for failure in result.failures) == sorted(
        (clip_id, stage) for clip_id in references for stage in STAGES
    )
    assert result.accounting["failures"] == 60
    assert sum("not asked" in failure.reason for failure in result.failures) >= 60 - judge.calls


def test_retries_before_a_refusal_are_counted(judge):
    references, predictions = synthetic_split(1)
    judge.fail_next(Fault(status=503), Fault(status=503), Fault(status=403))
    result = run_judge(references, predictions, "en", config_for(judge, concurrency=1, backoff_base=0.01))
    assert "HTTP 403" in result.stopped_because
    assert judge.calls == 3
    assert result.accounting["calls"] == 3 and result.accounting["retries"] == 2


def test_a_server_without_json_mode_is_asked_in_plain_text_and_still_judges_everything(demo, judge):
    references, predictions = demo
    judge.reject_response_format = True
    result = run_judge(references, predictions, "en", config_for(judge, concurrency=1))
    assert result.complete
    assert result.metrics == expected_scores(references, predictions, templates_for("en"))[0]
    assert judge.requests[0].answered_with == "400 response_format"
    assert all("response_format" not in request.body for request in judge.requests[1:])
    # One refused request, then every judgment once; the fallback is not a retry.
    assert judge.calls == result.accounting["calls"] == 2 * len(references) + 1
    assert result.accounting["retries"] == 0


def test_response_format_none_never_asks_for_json_mode(demo, judge):
    references, predictions = demo
    result = run_judge(references, predictions, "en", config_for(judge, response_format="none"))
    assert result.complete and judge.calls == 20
    assert all("response_format" not in request.body for request in judge.requests)


def test_response_format_json_against_a_server_without_it_fails_each_judgment_without_retrying(judge):
    references, predictions = synthetic_split(3)
    judge.reject_response_format = True
    result = run_judge(references, predictions, "en", config_for(judge, response_format="json"))
    assert result.metrics == {} and len(result.failures) == 6
    assert all("HTTP 400" in failure.reason for failure in result.failures)
    assert judge.calls == 6 and result.accounting["retries"] == 0


def test_no_more_requests_are_in_flight_than_the_concurrency(demo):
    references, predictions = demo
    # A server of its own: a request of another test still hanging on the shared one would count as in flight.
    with FakeJudge(latency=0.2) as judge:
        result = run_judge(references, predictions, "en", config_for(judge, concurrency=3))
    assert result.complete and judge.calls == 20
    assert 2 <= judge.max_in_flight <= 3


def test_progress_is_reported_from_zero_to_every_clip(demo, judge):
    references, predictions = demo
    seen = []
    run_judge(references, predictions, "en", config_for(judge), progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 10) and seen[-1] == (10, 10)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_a_second_run_with_the_sqlite_cache_file_makes_no_requests(demo, judge, tmp_path):
    references, predictions = demo
    path = tmp_path / "cache" / "judge.sqlite3"
    cache = SqliteJudgeCache(path)
    first = run_judge(references, predictions, "en", config_for(judge), cache=cache)
    cache.close()
    judge.reset()

    cache = SqliteJudgeCache(path)
    second = run_judge(references, predictions, "en", config_for(judge), cache=cache)
    cache.close()
    assert judge.calls == 0
    assert second.accounting["calls"] == 0 and second.accounting["cache_hits"] == 20
    assert second.complete and second.metrics == first.metrics and second.per_clip == first.per_clip
    assert first.metrics == expected_scores(references, predictions, templates_for("en"))[0]


def reworded_l2(language="en") -> dict[str, Template]:
    original = BUILTIN[("l2", language)]
    return templates_for(language) | {"l2": Template("l2", language, original.system, original.user + "\nBe strict.")}


@pytest.mark.parametrize(
    "change, asked_again",
    [
        ({"config": {"temperature": 0.5}}, 20),
        ({"config": {"model": "another-judge"}}, 20),
        ({"templates": reworded_l2()}, 10),
        ({}, 0),
    ],
)
def test_changing_the_temperature_model_or_template_asks_again(demo, judge, change, asked_again):
    references, predictions = demo
    cache = MemoryJudgeCache()
    run_judge(references, predictions, "en", config_for(judge), cache=cache)
    judge.reset()
    config = config_for(judge, **change.get("config", {}))
    templates = change.get("templates") or templates_for("en")
    result = run_judge(references, predictions, "en", config, templates=templates, cache=cache)
    assert judge.calls == result.accounting["calls"] == asked_again
    assert result.accounting["cache_hits"] == 20 - asked_again
    assert result.complete and result.metrics == expected_scores(references, predictions, templates)[0]
    assert all(
        request.body["model"] == config.model and request.body["temperature"] == config.temperature
        for request in judge.requests
    )


def test_comma_templates_are_read_with_the_comma_parser_and_sent_without_json_mode(demo, judge):
    references, predictions = demo
    overrides = templates_from_data(
        {
            "l1": {
                "en": {
                    "user": "Reference: {reference}\nGenerated: {prediction}\n"
                    "Rate environment and character from 0 to 5. Answer: e,c",
                    "parser": "comma",
                }
            },
            "l2": {
                "en": {
                    "user": "Reference: {reference}\nGenerated: {prediction}\nGive a plot score from 0 to 5.",
                    "parser": "comma",
                }
            },
        }
    )
    templates = templates_for("en", overrides)
    assert templates == {"l1": overrides[("l1", "en")], "l2": overrides[("l2", "en")]}
    judge.answer = comma_answer
    result = run_judge(references, predictions, "en", config_for(judge), templates=templates)
    assert result.complete and result.failures == ()
    metrics, per_clip = expected_scores(references, predictions, templates)
    assert result.metrics == metrics and result.per_clip == per_clip
    assert judge.calls == 20 and result.accounting["reasks"] == 0
    assert all("response_format" not in request.body for request in judge.requests)
    assert all(request.body["temperature"] == 0 for request in judge.requests)
    assert {stage: info["parser"] for stage, info in result.judge["stages"].items()} == {"l1": "comma", "l2": "comma"}


def test_a_new_judge_protocol_asks_again_and_signs_differently(demo, judge, tmp_path, monkeypatch):
    """New parsing or aggregation rules must neither reuse old answers nor be ranked with old numbers."""
    references, predictions = demo
    cache = SqliteJudgeCache(tmp_path / "judge.sqlite3")
    before = run_judge(references, predictions, "en", config_for(judge), cache=cache)
    key_before = cache_key(MODEL, BUILTIN[("l2", "en")], "r", "p", 0)
    judge.reset()

    # The cache and the runner import the one constant; a new protocol changes it for both.
    monkeypatch.setattr("evaluation.judge.cache.JUDGE_PROTOCOL", "movie101v2-judge/test")
    monkeypatch.setattr("evaluation.judge.runner.JUDGE_PROTOCOL", "movie101v2-judge/test")
    after = run_judge(references, predictions, "en", config_for(judge), cache=cache)
    cache.close()

    assert cache_key(MODEL, BUILTIN[("l2", "en")], "r", "p", 0) != key_before
    assert judge.calls == 20 and after.accounting["cache_hits"] == 0
    assert before.judge["protocol"] == "movie101v2-judge/1" and after.judge["protocol"] == "movie101v2-judge/test"
    assert after.judge["signature"] != before.judge["signature"]
    assert after.metrics == before.metrics  # the same fake judge: only the bookkeeping differs


def test_the_cache_key_does_not_depend_on_the_endpoint_url(demo, judge, tmp_path):
    """The same model behind another URL (a proxy, a second vLLM) reuses the cache."""
    references, predictions = demo
    cache = SqliteJudgeCache(tmp_path / "judge.sqlite3")
    run_judge(references, predictions, "en", config_for(judge), cache=cache)
    judge.reset()
    elsewhere = config_for(judge, base_url=judge.base_url.replace("127.0.0.1", "localhost"))
    again = run_judge(references, predictions, "en", elsewhere, cache=cache)
    cache.close()
    assert judge.calls == 0 and again.accounting["cache_hits"] == 20


def test_one_template_for_both_stages_is_cached_per_stage(judge, tmp_path):
    """A single prompt asking for all three scores, used for L1 and L2: the cache must not mix the stages."""
    user = 'Reference: {reference}\nGenerated: {prediction}\nAnswer {"environment": e, "character": c, "plot": p}'
    overrides = templates_from_data({"l1": {"en": {"user": user}}, "l2": {"en": {"user": user}}})
    templates = templates_for("en", overrides)
    references, predictions = synthetic_split(3)
    answers = {"environment": 1, "character": 4, "plot": 2}
    judge.answer = lambda prompt: json.dumps(answers)
    cache = SqliteJudgeCache(tmp_path / "judge.sqlite3")
    first = run_judge(references, predictions, "en", config_for(judge), templates=templates, cache=cache)
    second = run_judge(references, predictions, "en", config_for(judge), templates=templates, cache=cache)
    expected = {"l1_environment": 1.0, "l1_character": 4.0, "l1": 2.5, "l2": 2.0}
    assert first.metrics == second.metrics == expected
    assert judge.calls == 6 and second.accounting["cache_hits"] == 6


def test_the_api_key_is_never_shown(judge):
    config = config_for(judge, api_key="sk-test-do-not-print-1234")
    assert "sk-test-do-not-print-1234" not in repr(config)
    assert "sk-test-do-not-print-1234" not in json.dumps(config.identity())
    references, predictions = synthetic_split(2)
    result = run_judge(references, predictions, "en", config)
    assert result.complete
    assert "sk-test-do-not-print-1234" not in json.dumps(result.to_dict(include_per_clip=True)) + repr(result)


# -- the rate limiter and Retry-After ------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def most_in_any_window(starts: list[float], seconds: float = 60.0) -> int:
    """The largest number of starts inside one half-open window [t, t + seconds)."""
    return max(sum(1 for other in starts if start <= other < start + seconds) for start in starts)


def test_the_rate_limiter_never_starts_more_than_the_cap_in_any_60_second_window():
    clock = FakeClock()
    limiter = RateLimiter(60, None, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(150):
        limiter.acquire()
        starts.append(clock.now)
    # A full minute's worth at once, then nothing until the first of them is a minute old (a bucket that
    # started full let 119 through in the first minute).
    assert starts[:60] == [0.0] * 60 and clock.slept[0] == pytest.approx(60.0)
    assert most_in_any_window(starts) == 60
    assert starts[60:120] == [pytest.approx(60.0)] * 60 and starts[120] == pytest.approx(120.0)


def test_the_rate_limiter_window_slides_with_irregular_requests():
    clock = FakeClock()
    limiter = RateLimiter(3, None, clock=clock, sleep=clock.sleep)
    starts = []
    for gap in [0, 10, 10, 0, 5, 45, 0, 0, 0, 100, 1, 1, 1, 1, 59, 0.5]:
        clock.now += gap
        limiter.acquire()
        starts.append(clock.now)
    assert most_in_any_window(starts) == 3
    # Never slower than the cap needs: the 4th request waits only until the 1st is a minute old.
    assert starts[:4] == [0, 10, 20, pytest.approx(60.0)]


def test_the_rate_limiter_debits_the_tokens_responses_report_for_a_minute():
    clock = FakeClock()
    limiter = RateLimiter(None, 600, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.record_tokens(500)
    clock.now = 10.0
    limiter.acquire()  # 500 of 600 in the window: room left, no wait
    assert clock.slept == []
    limiter.record_tokens(400)  # 900 in the window: over the cap until the 500 are a minute old
    limiter.acquire()
    assert clock.now == pytest.approx(60.0)
    limiter.acquire()  # 400 in the window
    assert clock.now == pytest.approx(60.0)
    limiter.record_tokens(300)  # 700: wait for the 400 reported at 10 s to leave
    limiter.acquire()
    assert clock.now == pytest.approx(70.0)


def test_a_rate_limiter_without_caps_never_waits():
    clock = FakeClock()
    limiter = RateLimiter(None, None, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        limiter.acquire()
        limiter.record_tokens(10_000)
    assert clock.slept == []


def http_date(offset_seconds: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=offset_seconds), usegmt=True)


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"Retry-After": "-3"}, 0.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"retry-after-ms": "soon", "Retry-After": "4"}, 4.0),
        ({"Retry-After": http_date(-3600)}, 0.0),
        ({"Retry-After": "in a while"}, None),
        ({"Retry-After": ""}, None),
        ({"Content-Type": "application/json"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_in_seconds_milliseconds_or_an_http_date(headers, expected):
    assert retry_after_seconds(httpx.Headers(headers)) == expected
    # A plain mapping, whatever the case of its names, reads the same.
    assert retry_after_seconds(dict(headers)) == expected
    assert retry_after_seconds({name.upper(): value for name, value in headers.items()}) == expected


def test_retry_after_as_a_future_http_date_is_the_seconds_until_then():
    before = time.time()
    headers = httpx.Headers({"Retry-After": http_date(120)})  # whole seconds: up to 1 s earlier than asked
    seconds = retry_after_seconds(headers)
    after = time.time()
    assert before + 119 - after <= seconds <= 120
    assert retry_after_seconds(None) is None


# -- configuration from JUDGE_* ------------------------------------------------------------------------

ENV = {
    "JUDGE_BASE_URL": "http://127.0.0.1:9/v1",
    "JUDGE_MODEL": "env-model",
    "JUDGE_API_KEY": "env-key",
    "JUDGE_TEMPERATURE": "0.3",
    "JUDGE_CONCURRENCY": "4",
    "JUDGE_MAX_RETRIES": "2",
    "JUDGE_RESPONSE_FORMAT": "none",
}


def test_no_judge_variables_means_no_judge():
    assert JudgeConfig.from_env({}) is None
    assert JudgeConfig.from_env({"JUDGE_API_KEY": "k", "JUDGE_BASE_URL": ""}, model=None) is None


@pytest.mark.parametrize(
    "environ, missing",
    [
        ({"JUDGE_BASE_URL": "http://127.0.0.1:9/v1"}, "JUDGE_MODEL"),
        ({"JUDGE_MODEL": "m", "JUDGE_API_KEY": "k"}, "JUDGE_BASE_URL"),
    ],
)
def test_a_half_configured_judge_is_an_error_naming_what_is_missing(environ, missing):
    with pytest.raises(JudgeConfigError, match=missing):
        JudgeConfig.from_env(environ)


def test_the_variables_are_read_typed_and_overrides_of_none_keep_them():
    config = JudgeConfig.from_env(ENV, base_url=None, model=None, api_key=None, temperature=None, concurrency=None)
    assert config == JudgeConfig(
        base_url="http://127.0.0.1:9/v1",
        model="env-model",
        api_key="env-key",
        temperature=0.3,
        concurrency=4,
        max_retries=2,
        response_format="none",
    )
    overridden = JudgeConfig.from_env(ENV, model="flag-model", temperature=0.0, concurrency=1)
    assert (overridden.model, overridden.temperature, overridden.concurrency) == ("flag-model", 0.0, 1)
    assert overridden.base_url == "http://127.0.0.1:9/v1" and overridden.api_key == "env-key"
    assert JudgeConfig.from_env({}, base_url="http://h/v1", model="m") == JudgeConfig(base_url="http://h/v1", model="m")


@pytest.mark.parametrize(
    "name, value",
    [
        ("JUDGE_TEMPERATURE", "warm"),
        ("JUDGE_CONCURRENCY", "2.5"),
        ("JUDGE_MAX_TOKENS", "lots"),
        ("JUDGE_TIMEOUT", "1 minute"),
        ("JUDGE_REQUESTS_PER_MINUTE", "1e3"),
    ],
)
def test_a_malformed_number_is_an_error_naming_the_variable(name, value):
    with pytest.raises(JudgeConfigError, match=name):
        JudgeConfig.from_env(ENV | {name: value})


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"JUDGE_TEMPERATURE": "3"}, "temperature"),
        ({"JUDGE_CONCURRENCY": "0"}, "concurrency"),
        ({"JUDGE_BASE_URL": "127.0.0.1:8000/v1"}, "http://"),
        ({"JUDGE_RESPONSE_FORMAT": "xml"}, "response format"),
    ],
)
def test_a_value_out_of_range_is_refused(changes, message):
    with pytest.raises(JudgeConfigError, match=message):
        JudgeConfig.from_env(ENV | changes)


def test_the_api_key_is_not_in_the_configs_repr():
    config = JudgeConfig.from_env(ENV | {"JUDGE_API_KEY": "sk-secret-from-env"})
    assert config.api_key == "sk-secret-from-env"
    assert "sk-secret-from-env" not in repr(config) and "sk-secret-from-env" not in str(config)
