"""One cache root for emovox: $EMOVOX_CACHE, $XDG_CACHE_HOME, ~/.cache, else a temp folder.

Tests run as root on CI, where permission bits stop nothing: an unwritable folder is
simulated by a path below a regular file, which nobody can create.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

import pytest

from emovox import cache_root as cache_root_module
from emovox.cache_root import CACHE_ENV, XDG_ENV, cache_root, temporary_root, writable
from emovox.errors import EmovoxError
from emovox.features.cache import FeatureCache, default_cache_dir
from emovox.features.whisper import weights


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No cache variables, a writable home and a private temporary folder; decide afresh."""
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.delenv(XDG_ENV, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    cache_root_module.forget()
    yield tmp_path
    cache_root_module.forget()


def unwritable_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point $HOME below a regular file: even root cannot create anything there."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    monkeypatch.setenv("HOME", str(blocker / "home"))
    return blocker / "home"


def fallback_folder(tmp_path: Path) -> Path:
    name = f"emovox-cache-{os.getuid()}" if hasattr(os, "getuid") else "emovox-cache"
    return tmp_path / "tmp" / name


def test_emovox_cache_then_xdg_then_home(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_root() == env / "home" / ".cache" / "emovox"
    monkeypatch.setenv(XDG_ENV, "relative/cache")  # not absolute: ignored, as the spec says
    assert cache_root() == env / "home" / ".cache" / "emovox"
    monkeypatch.setenv(XDG_ENV, str(env / "xdg"))
    assert cache_root() == env / "xdg" / "emovox"
    monkeypatch.setenv(CACHE_ENV, str(env / "mine"))
    assert cache_root() == env / "mine"
    assert (env / "mine").is_dir()  # created, as every root returned is


def test_every_cache_uses_the_one_root(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(XDG_ENV, str(env / "xdg"))
    root = env / "xdg" / "emovox"
    assert weights.cache_dir() == root
    assert default_cache_dir() == root / "features"
    assert FeatureCache().root == root / "features"


def test_unwritable_home_falls_back_to_a_private_temp_folder(
    env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    wanted = unwritable_home(env, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="emovox.cache_root"):
        root = cache_root()
        again = cache_root()
    assert root == again == fallback_folder(env)
    assert writable(root) is None
    if hasattr(os, "getuid"):
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
    (record,) = caplog.records  # one warning, not one per call
    message = record.getMessage()
    assert "\n" not in message and "\x1b" not in message
    assert str(wanted / ".cache" / "emovox") in message and str(root) in message
    assert CACHE_ENV in message and "Not a directory" in message
    assert default_cache_dir() == root / "features"


def test_unwritable_emovox_cache_falls_back_and_says_which(
    env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = env / "file"
    blocker.write_text("x")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))
    with caplog.at_level(logging.WARNING, logger="emovox.cache_root"):
        assert cache_root() == fallback_folder(env)
    assert f"from ${CACHE_ENV}" in caplog.text


def test_a_writability_check_that_fails_also_falls_back(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only home (simulated: root ignores permission bits) is found by writing."""
    home_cache = env / "home" / ".cache" / "emovox"
    real = cache_root_module.writable

    def read_only_home(folder: Path) -> str | None:
        return "Read-only file system" if folder == home_cache else real(folder)

    monkeypatch.setattr(cache_root_module, "writable", read_only_home)
    assert cache_root() == fallback_folder(env)


def test_an_existing_fallback_is_tightened_and_reused(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not hasattr(os, "getuid"):
        pytest.skip("POSIX permissions")
    folder = fallback_folder(env)
    folder.mkdir(mode=0o777)
    os.chmod(folder, 0o777)
    assert temporary_root() == folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_fallback_owned_by_someone_else_is_refused(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not hasattr(os, "getuid"):
        pytest.skip("POSIX owners")
    other = os.getuid() + 4242
    planted = env / "tmp" / f"emovox-cache-{other}"
    planted.mkdir()  # made by "another user": we pretend to be uid `other`
    monkeypatch.setattr(cache_root_module.os, "getuid", lambda: other)
    with pytest.raises(EmovoxError, match="belongs to another user") as info:
        temporary_root()
    assert CACHE_ENV in str(info.value)


def test_a_fallback_that_is_a_link_is_refused(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = env / "elsewhere"
    target.mkdir()
    fallback_folder(env).symlink_to(target)
    with pytest.raises(EmovoxError, match="not a folder"):
        temporary_root()


def test_weights_still_load_without_any_cache_folder(
    env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No writable root at all: the digest is computed but not remembered."""
    unwritable_home(env, monkeypatch)
    blocker = env / "tmp-file"
    blocker.write_text("x")
    monkeypatch.setattr(tempfile, "tempdir", str(blocker))
    cache_root_module.forget()
    with pytest.raises(EmovoxError, match=CACHE_ENV):
        cache_root()
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights")
    files = weights.locate(path=model)
    assert len(files.sha256) == 64
