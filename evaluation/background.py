"""One call run in a daemon thread, its result or error handed to the thread that waits for it.

METEOR's Java processes do their work while the calling thread waits on pipes without the GIL, so
``evaluation`` runs them beside the Python metrics (``classic.score``) and beside each other
(``meteor.Meteor``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class BackgroundCall:
    """``function(*args, **kwargs)``, started at once in a daemon thread.

    ``on_error`` is called in that thread as soon as the call fails, before anyone asks for the
    result: the siblings of a failed part can stop at once rather than finish their own.
    """

    def __init__(self, function: Callable, *args, on_error: Callable[[], None] | None = None, **kwargs):
        self._on_error = on_error
        self._value = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(function, args, kwargs), daemon=True)
        self._thread.start()

    def _run(self, function: Callable, args: tuple, kwargs: dict) -> None:
        try:
            self._value = function(*args, **kwargs)
        except BaseException as exc:  # handed to the thread that waits for the result
            self._error = exc
            if self._on_error is not None:
                self._on_error()

    def join(self) -> None:
        self._thread.join()

    @property
    def error(self) -> BaseException | None:
        """The call's error, once it has ended (None while it runs, or when it succeeded)."""
        return self._error

    def result(self):
        """Wait for the call; its value, or its error raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
