"""Versions recorded with every result, so a number can be traced to its code."""

from __future__ import annotations

import functools
import platform
from importlib.metadata import PackageNotFoundError, version


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


@functools.cache
def classic_versions() -> dict[str, str]:
    from . import PROTOCOL, __version__
    from .java import java_version

    return {
        "evaluation": __version__,
        "protocol": PROTOCOL,
        "pycocoevalcap": _package_version("pycocoevalcap"),
        "java": java_version(),
        "python": platform.python_version(),
    }
