"""A one-line progress display on stderr: redrawn in place on a terminal, a line per change elsewhere."""

from __future__ import annotations

import sys
from typing import TextIO

WIDTH = 30


def bar(done: int, total: int, width: int = WIDTH) -> str:
    filled = width * done // total if total > 0 else 0
    return "[" + "#" * filled + "-" * (width - filled) + "]"


class Progress:
    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.last = ""

    def show(self, text: str, done: int | None = None, total: int | None = None) -> None:
        if done is not None and total:
            text = f"{text} {bar(done, total)} {done:,}/{total:,}"
        if not self.enabled or text == self.last:
            return
        if self.tty:
            self.stream.write("\r\x1b[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.last = text

    def close(self) -> None:
        if self.enabled and self.tty and self.last:
            self.stream.write("\n")
            self.stream.flush()
        self.last = ""
