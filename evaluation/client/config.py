"""Where the client keeps the server and the API token: ``$XDG_CONFIG_HOME/movie101v2/config.json``, mode 0600.

``--server`` or ``MOVIE101V2_SERVER`` overrides the stored server, ``MOVIE101V2_TOKEN`` the stored token.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

SERVER_ENV = "MOVIE101V2_SERVER"
TOKEN_ENV = "MOVIE101V2_TOKEN"


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    server: str
    token: str | None


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "movie101v2" / "config.json"


def normalized_server(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"The server must be an http:// or https:// address, not {url!r}.")
    return url


def read_stored() -> dict[str, str]:
    path = config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}. Run `movie101v2 login` again.") from exc
    return {key: value for key, value in data.items() if isinstance(value, str)} if isinstance(data, dict) else {}


def store(server: str, token: str) -> Path:
    """Write the server and token, readable by the user alone (the folder 0700, the file 0600)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = json.dumps({"server": server, "token": token}, indent=1) + "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an older file keeps its mode through O_CREAT
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def settings(server: str | None = None) -> Settings:
    """The server (the option, then the variable, then the file) and the token (the variable, then the file)."""
    stored = read_stored()
    chosen = server or os.environ.get(SERVER_ENV) or stored.get("server")
    if not chosen:
        raise ConfigError(
            f"No server: run `movie101v2 login --server URL --token TOKEN`, or set {SERVER_ENV} or --server."
        )
    token = os.environ.get(TOKEN_ENV) or stored.get("token") or None
    return Settings(normalized_server(chosen), token)
