"""Judge prompt templates: ours for both languages, or a phase's own.

A template is data: a system message, a user message with the placeholders
``{reference}`` and ``{prediction}``, and the parser its answers need. The
two texts are put in verbatim, in one pass, so a narration that itself
contains ``{reference}`` or braces is never expanded again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..errors import EvaluationError
from .parsing import PARSERS, STAGE_KEYS

STAGES = tuple(STAGE_KEYS)
PLACEHOLDERS = ("reference", "prediction")
_PLACEHOLDER = re.compile(r"\{(reference|prediction)\}")


class TemplateError(EvaluationError):
    pass


@dataclass(frozen=True)
class Template:
    stage: str
    language: str
    system: str
    user: str
    parser: str = "json"

    @cached_property
    def hash(self) -> str:
        """Names the wording the judge saw; the parser is recorded beside it.

        Kept once computed: it is part of every judgment's cache key."""
        canonical = json.dumps({"system": self.system, "user": self.user}, ensure_ascii=False, sort_keys=True)
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @cached_property
    def _pieces(self) -> tuple[list[str], list[str]]:
        """The system and user texts cut at their placeholders: text, name, text, ..., name, text."""
        return _PLACEHOLDER.split(self.system), _PLACEHOLDER.split(self.user)

    def messages(self, reference: str, prediction: str) -> list[dict[str, str]]:
        values = {"reference": reference, "prediction": prediction}

        def fill(pieces: list[str]) -> str:
            # Every odd piece is a placeholder's name; the narrations are joined in and never read again.
            return "".join([values[piece] if index % 2 else piece for index, piece in enumerate(pieces)])

        system, user = self._pieces
        messages = [{"role": "system", "content": fill(system)}] if self.system else []
        messages.append({"role": "user", "content": fill(user)})
        return messages

    def to_dict(self) -> dict[str, str]:
        return {"system": self.system, "user": self.user, "parser": self.parser}


_EN_SYSTEM = (
    "You are an expert reviewer of audio description for films. You compare a narration that a model wrote "
    "for a movie clip with the reference narration a professional describer wrote for the same clip, and you "
    "rate it strictly and consistently. You answer with a JSON object and nothing else."
)
_ZH_SYSTEM = (
    "你是一位电影口述影像（无障碍电影解说）的资深评审。你将模型为一段电影片段生成的解说与专业解说员为同一片段撰写的"
    "参考解说进行比较，并严格、一致地打分。你只输出一个 JSON 对象，不输出其他任何内容。"
)

BUILTIN: dict[tuple[str, str], Template] = {
    ("l1", "en"): Template(
        stage="l1",
        language="en",
        system=_EN_SYSTEM,
        user="""Rate how well the generated narration gets the visual facts of the reference narration right.

Give two integer scores from 0 to 5:
- "environment": the scenes, objects and events. 5 means every scene, object and event of the reference is present and correct; 0 means none is, or the narration contradicts them.
- "character": who appears (by name or by description), and their actions, expressions and emotions. 5 means all of them are present and correct; 0 means none is, or they are wrong.

Judge facts, not wording: a paraphrase or a synonym is correct. Details the reference does not mention neither add to the score nor, unless they contradict it, take away from it.

Reference narration:
<<<
{reference}
>>>

Generated narration:
<<<
{prediction}
>>>

Answer with this JSON object only: {"environment": <integer 0-5>, "character": <integer 0-5>}""",
    ),
    ("l2", "en"): Template(
        stage="l2",
        language="en",
        system=_EN_SYSTEM,
        user="""Rate whether the generated narration conveys the plot of the reference narration: would a visually impaired listener understand the same thing happening in this clip?

Give one integer score from 0 to 5, "plot". 5 means the listener would understand the same plot; 3 means the main thread is there but an important part is missing or unclear; 0 means the plot is absent or a different one. Wording and visual detail do not count; only what happens, who does it and why.

Reference narration:
<<<
{reference}
>>>

Generated narration:
<<<
{prediction}
>>>

Answer with this JSON object only: {"plot": <integer 0-5>}""",
    ),
    ("l1", "zh"): Template(
        stage="l1",
        language="zh",
        system=_ZH_SYSTEM,
        user="""请评价生成解说对参考解说中视觉事实的还原程度。

给出两个 0 到 5 的整数分数：
- "environment"（环境）：场景、物体和事件。5 分表示参考解说中的场景、物体和事件全部出现且正确；0 分表示一个都没有，或与参考相矛盾。
- "character"（人物）：出现的人物（姓名或描述）及其动作、表情和情绪。5 分表示全部出现且正确；0 分表示一个都没有，或全部错误。

只评价事实，不评价措辞：意思相同的改写和同义词都算正确。参考解说中没有提到的细节既不加分，也不扣分，除非与参考相矛盾。

参考解说：
<<<
{reference}
>>>

生成解说：
<<<
{prediction}
>>>

只输出如下 JSON 对象：{"environment": <0-5 的整数>, "character": <0-5 的整数>}""",
    ),
    ("l2", "zh"): Template(
        stage="l2",
        language="zh",
        system=_ZH_SYSTEM,
        user="""请评价生成解说是否传达了参考解说的情节：视障听众听了生成解说，能否理解这段片段中发生的同样的事情？

给出一个 0 到 5 的整数分数 "plot"（情节）。5 分表示听众能理解同样的情节；3 分表示主线还在，但缺少或说不清一个重要部分；0 分表示没有情节或是另一个情节。措辞和视觉细节不计分，只看发生了什么、谁做的、为什么。

参考解说：
<<<
{reference}
>>>

生成解说：
<<<
{prediction}
>>>

只输出如下 JSON 对象：{"plot": <0-5 的整数>}""",
    ),
}


def check_template(template: Template, where: str = "template") -> None:
    """Refuse a template that cannot work; errors name the path of the bad field."""
    if template.stage not in STAGE_KEYS:
        raise TemplateError(f"{where}: unknown stage {template.stage!r}; expected one of {', '.join(STAGES)}")
    if template.parser not in PARSERS:
        raise TemplateError(f"{where}.parser: unknown parser {template.parser!r}; expected one of {', '.join(PARSERS)}")
    if not isinstance(template.system, str):
        raise TemplateError(f"{where}.system: must be text")
    if not isinstance(template.user, str) or not template.user.strip():
        raise TemplateError(f"{where}.user: the user message is empty")
    for name in PLACEHOLDERS:
        if "{" + name + "}" not in template.user:
            raise TemplateError(f"{where}.user: must contain the placeholder {{{name}}}")


def templates_from_data(data: Mapping[str, Any] | None) -> dict[tuple[str, str], Template]:
    """Read a phase's or a file's template overrides.

    The shape is ``{stage: {language: {"user": ..., "system": ..., "parser": ...}}}``,
    for example ``{"l1": {"zh": {"user": "...{reference}...{prediction}...", "parser": "comma"}}}``.
    Errors name the path of the bad value.
    """
    if not data:
        return {}
    if not isinstance(data, Mapping):
        raise TemplateError("templates: expected a mapping of stage -> language -> template")
    templates = {}
    for stage, by_language in data.items():
        if stage not in STAGE_KEYS:
            raise TemplateError(f"templates.{stage}: unknown stage; expected one of {', '.join(STAGES)}")
        if not isinstance(by_language, Mapping):
            raise TemplateError(f"templates.{stage}: expected a mapping of language -> template")
        for language, fields in by_language.items():
            where = f"templates.{stage}.{language}"
            if language not in ("zh", "en"):
                raise TemplateError(f"{where}: unknown language; expected zh or en")
            if not isinstance(fields, Mapping):
                raise TemplateError(f"{where}: expected a mapping with user, system and parser")
            unknown = set(fields) - {"user", "system", "parser"}
            if unknown:
                raise TemplateError(f"{where}: unknown field {sorted(unknown)[0]!r}; expected user, system, parser")
            template = Template(
                stage=stage,
                language=language,
                system=fields.get("system", ""),
                user=fields.get("user", ""),
                parser=fields.get("parser", "json"),
            )
            check_template(template, where)
            templates[(stage, language)] = template
    return templates


def templates_for(language: str, overrides: Mapping[tuple[str, str], Template] | None = None) -> dict[str, Template]:
    """The template of each stage for ``language``: the override where there is one, ours otherwise."""
    overrides = overrides or {}
    return {stage: overrides.get((stage, language)) or BUILTIN[(stage, language)] for stage in STAGES}
