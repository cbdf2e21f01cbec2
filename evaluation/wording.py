"""Messages that can be said in another language: an English template and its parameters. No Django here.

A message is a :class:`Phrase`: an English ``str.format`` template, marked with :func:`gettext_noop`
so that Django's ``makemessages`` (which extracts that name from every ``.py`` file of the project)
puts it in the site's catalog, and the values of its ``{name}`` fields. A value is text from the file
(a clip id, a quoted key) or a number, already formatted (``2,001``), which no language changes; or a
word or clause chosen at run time ("array", "clip id, line 3"), itself a :class:`Phrase`; or a list,
a :class:`Series`. Nothing in a phrase is English prose except its templates.

``str(phrase)`` is the English text: what the CLI prints and what ``Problem.message`` holds.
``phrase.render(translate)`` is the text in another language, given a ``translate`` function from
an English template to the other language's (Django's ``gettext``, in the service). A translation
that does not fit its template (a field renamed or missing) is passed over for the English one, so
a bad catalog never costs a participant the message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

#: An English template to the same template in another language.
Translate = Callable[[str], str]


def gettext_noop(text: str) -> str:
    """Mark ``text`` for translation without translating it.

    The name is Django's: ``makemessages`` extracts the argument of every call of it, in any module.
    """
    return text


def english(text: str) -> str:
    """The translation into English: none."""
    return text


@dataclass(frozen=True)
class Phrase:
    """An English ``str.format`` template and the values of its fields."""

    template: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def render(self, translate: Translate = english) -> str:
        values = {name: render(value, translate) for name, value in self.params.items()}
        if translate is not english:
            try:
                return translate(self.template).format(**values)
            except (KeyError, IndexError, ValueError, AttributeError, TypeError):
                pass  # a translation whose fields are not the template's: English rather than nothing
        return self.template.format(**values)

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True)
class Series:
    """Items said one after another, ``a, b, c``."""

    items: tuple[Param, ...]

    def render(self, translate: Translate = english) -> str:
        return _render_separator(translate).join(render(item, translate) for item in self.items)

    def __str__(self) -> str:
        return self.render()


#: The value of a field of a :class:`Phrase`.
Param = str | Phrase | Series

# Translators: between the items of a list in a message ("a, b, c").
SEPARATOR = gettext_noop(", ")


def _render_separator(translate: Translate) -> str:
    return SEPARATOR if translate is english else translate(SEPARATOR)


def phrase(template: str, /, **params: Param) -> Phrase:
    """``Phrase(template, params)``, the params as keywords."""
    return Phrase(template, params)


def render(value: Param, translate: Translate = english) -> str:
    """``value`` in the language of ``translate``: English by default."""
    if isinstance(value, (Phrase, Series)):
        return value.render(translate)
    return str(value)


def literal(text: str) -> str:
    """A template that says ``text`` as it is, braces and all."""
    return text.replace("{", "{{").replace("}", "}}")
