"""The login file: private (0600 in a 0700 folder), replaced atomically, and the order settings are taken in."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from elasticthought.commands import config


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would let anyone read new files: the file must be 0600 all the same."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_the_login_file_is_0600_in_a_0700_folder(tmp_path: Path) -> None:
    path = config.config_path({"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert path == tmp_path / "xdg" / "elasticthought" / "config.json"
    config.save(path, config.Saved(url="http://et:8080", token="et_secret"))
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert config.load(path) == config.Saved(url="http://et:8080", token="et_secret")


def test_saving_again_replaces_the_file_and_leaves_no_temporary_behind(tmp_path: Path) -> None:
    path = tmp_path / "elasticthought" / "config.json"
    config.save(path, config.Saved(url="http://a", token="one"))
    path.chmod(0o644)  # widened by hand: a new login makes it private again
    config.save(path, config.Saved(url="http://b", token="two"))
    assert config.load(path).token == "two" and mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]


def test_without_xdg_config_home_the_file_is_under_home_dot_config(tmp_path: Path) -> None:
    assert config.config_path({"HOME": str(tmp_path)}) == tmp_path / ".config" / "elasticthought" / "config.json"


def test_flags_win_over_the_environment_which_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    config.save(path, config.Saved(url="http://file", token="file-token"))
    env = {"ET_URL": "http://env", "ET_TOKEN": "env-token"}
    assert config.resolve(None, None, environ={}, path=path)[:2] == ("http://file", "file-token")
    assert config.resolve(None, None, environ=env, path=path)[:2] == ("http://env", "env-token")
    assert config.resolve("http://flag", "flag-token", environ=env, path=path)[:2] == ("http://flag", "flag-token")
    assert config.resolve(None, None, environ={}, path=tmp_path / "absent.json")[:2] == (config.DEFAULT_URL, None)


def test_a_damaged_login_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(config.ConfigError, match="elasticthought login"):
        config.load(path)
    path.write_text("[1, 2]")
    with pytest.raises(config.ConfigError, match="not a JSON object"):
        config.load(path)
