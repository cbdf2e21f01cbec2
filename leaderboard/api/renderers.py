"""The board API's file forms: ``?format=csv`` and ``?format=latex`` (``boards.exports``)."""

from __future__ import annotations

from rest_framework.renderers import BaseRenderer

from leaderboard.boards.exports import board_csv, board_latex


class BoardCSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return board_csv(data).encode(self.charset)


class BoardLatexRenderer(BaseRenderer):
    media_type = "application/x-latex"
    format = "latex"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return board_latex(data).encode(self.charset)
