"""Where the client commands find the server and the token: flags, then ET_URL / ET_TOKEN, then the login file.

`elasticthought login` writes `$XDG_CONFIG_HOME/elasticthought/config.json` (`~/.config/...` when
XDG_CONFIG_HOME is unset). The file holds a secret, so it is created 0600 in a 0700 folder, and
written to a temporary file renamed over the old one, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8080"
FILE_MODE = 0o600
FOLDER_MODE = 0o700


class ConfigError(Exception):
    """The login file exists but cannot be read."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class NotLoggedIn(Exception):
    """No token from a flag, the environment or the login file."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no token: run `elasticthought login`, set ET_TOKEN, or pass --token (looked in {path})")
        self.path = path


@dataclass(frozen=True)
class Saved:
    url: str | None = None
    token: str | None = None


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "elasticthought" / "config.json"


def load(path: Path) -> Saved:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return Saved()
    except (OSError, ValueError) as e:
        raise ConfigError(path, f"cannot read it ({e}); run `elasticthought login` again") from None
    if not isinstance(raw, dict):
        raise ConfigError(path, "not a JSON object; run `elasticthought login` again")
    url, token = raw.get("url"), raw.get("token")
    return Saved(url if isinstance(url, str) else None, token if isinstance(token, str) else None)


def save(path: Path, saved: Saved) -> None:
    """Write the file 0600 (its folder 0700), replacing any earlier one atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # the umask may have narrowed it; never widened
        with os.fdopen(fd, "w") as f:
            json.dump({"url": saved.url, "token": saved.token}, f, indent=1)
            f.write("\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def resolve(url: str | None, token: str | None, *, environ: Mapping[str, str] | None = None,
            path: Path | None = None) -> tuple[str, str | None, Path]:
    """(server URL, token or None, login file): a flag wins over ET_URL/ET_TOKEN, which win over the file."""
    env = os.environ if environ is None else environ
    path = path or config_path(env)
    saved = Saved() if url and token else load(path)
    found_url = url or env.get("ET_URL") or saved.url or DEFAULT_URL
    found_token = token or env.get("ET_TOKEN") or saved.token
    return found_url, found_token, path
