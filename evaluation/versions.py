"""Versions recorded with every result, so a number can be traced to its code."""

from __future__ import annotations

import functools
import platform
from importlib.metadata import PackageNotFoundError, version

# Here, not in the package's __init__, which imports the modules that record them.
__version__ = "1.1.0"

#: Names the scoring protocol. Bump it whenever a change could move a number:
#: normalization, tokenization, metric set or metric configuration.
PROTOCOL = "movie101v2-classic/1"


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


@functools.cache
def classic_versions() -> dict[str, str]:
    from .java import java_version

    return {
        "evaluation": __version__,
        "protocol": PROTOCOL,
        "pycocoevalcap": _package_version("pycocoevalcap"),
        "java": java_version(),
        "python": platform.python_version(),
    }
