"""Organizers' Markdown (challenge descriptions, pages, terms) as safe HTML.

Raw HTML in the source is not interpreted: Markdown's HTML handling is off, so
``<script>`` shows as the text ``<script>``. The output then goes through nh3,
which keeps only ordinary formatting tags, drops links other than http(s) and
mailto, and marks every link rel="nofollow noopener", in case a Markdown
construct ever produces something we did not expect.
"""

from __future__ import annotations

import markdown as markdown_lib
import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_URL_SCHEMES = {"http", "https", "mailto"}


def render_markdown(text: str) -> SafeString:
    converter = markdown_lib.Markdown(extensions=["tables", "sane_lists"])
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    html = converter.convert(text or "")
    return mark_safe(nh3.clean(html, link_rel="nofollow noopener", url_schemes=_URL_SCHEMES))  # noqa: S308 - sanitized


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    return render_markdown(text)
