"""Where emovox keeps its caches: one decision for the whole package.

:func:`cache_root` picks, in order, ``$EMOVOX_CACHE``, ``$XDG_CACHE_HOME/emovox`` (when
``$XDG_CACHE_HOME`` is an absolute path, as the XDG spec asks) and ``~/.cache/emovox``. The
choice is tested by really creating the folder and a file in it: a read-only home, a
``$HOME`` under a file, or a full disk fail here, not later in the middle of a build. When it
is not writable, the caches go to a per-user folder under the system's temporary folder
(``/tmp/emovox-cache-<uid>`` on Linux, created ``0o700``; one owned by someone else, or a
link, is refused) and one warning line says where, and how to choose (``EMOVOX_CACHE``).

Under the root: ``whisper/`` (checked weight digests, the ONNX encoder) and ``features/``
(:class:`emovox.features.FeatureCache`). Everything there can be deleted at any time.

The decision is made once per process for a given environment (the variables above, the
home folder and the temporary folder), so the test and the warning cost once per process.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
import threading
from pathlib import Path

from emovox.errors import EmovoxError

CACHE_ENV = "EMOVOX_CACHE"
"""Environment variable naming emovox's cache folder."""

XDG_ENV = "XDG_CACHE_HOME"

log = logging.getLogger(__name__)

_decisions: dict[tuple[str | None, ...], Path] = {}
_lock = threading.Lock()


def _reason(exc: BaseException) -> str:
    """An OSError as a short phrase (``Permission denied``), anything else as its text."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def writable(folder: Path) -> str | None:
    """None when ``folder`` can be created and written to, else why not (a short phrase).

    Really creates the folder (and its parents) and a temporary file in it: permission
    bits alone do not tell (root ignores them; read-only mounts, full disks).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".emovox-write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return _reason(exc)
    return None


def preferred_root() -> tuple[Path | None, str]:
    """The cache folder the environment asks for, and where that choice came from.

    The folder is None when no home folder can be found (no ``$HOME``, no passwd entry).
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser(), f"${CACHE_ENV}"
    xdg = os.environ.get(XDG_ENV)
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "emovox", f"${XDG_ENV}"
    try:
        return Path.home() / ".cache" / "emovox", "~/.cache"
    except (RuntimeError, KeyError):  # no $HOME and no passwd entry
        return None, "~/.cache"


def temporary_root() -> Path:
    """The per-user fallback folder under the temporary folder, created ``0o700``.

    Raises:
        EmovoxError: when it exists but is a link, not a folder, or another user's, or
            cannot be written.
    """
    uid = os.getuid() if hasattr(os, "getuid") else None
    # Windows has no uids, and its temporary folder is already per user.
    name = f"emovox-cache-{uid}" if uid is not None else "emovox-cache"
    folder = Path(tempfile.gettempdir()) / name
    advice = f"set {CACHE_ENV} to a folder you can write to."
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise EmovoxError(
            f"Cannot create the cache folder '{folder}' ({_reason(exc)}); {advice}"
        ) from None
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise EmovoxError(f"'{folder}' is not a folder (a link or a file); {advice}")
    if uid is not None:
        if info.st_uid != uid:
            raise EmovoxError(
                f"The cache folder '{folder}' belongs to another user (uid {info.st_uid}); {advice}"
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(folder, 0o700)  # ours, but others could read or plant files in it
    problem = writable(folder)
    if problem:
        raise EmovoxError(f"Cannot write the cache folder '{folder}' ({problem}); {advice}")
    return folder


def cache_root() -> Path:
    """emovox's cache folder, created and writable (see the module docstring).

    Raises:
        EmovoxError: when neither the preferred folder nor the temporary fallback can be
            used.
    """
    key = (
        os.environ.get(CACHE_ENV),
        os.environ.get(XDG_ENV),
        os.environ.get("HOME"),
        os.environ.get("USERPROFILE"),
        tempfile.gettempdir(),
    )
    with _lock:
        decided = _decisions.get(key)
        if decided is not None:
            return decided
        preferred, origin = preferred_root()
        problem = "no home folder" if preferred is None else writable(preferred)
        if problem is None:
            root = preferred
        else:
            root = temporary_root()
            wanted = f"'{preferred}' (from {origin})" if preferred is not None else origin
            log.warning(
                "emovox: the cache folder %s is not writable (%s); using '%s'. "
                "Set %s to choose another.",
                wanted,
                problem,
                root,
                CACHE_ENV,
            )
        _decisions[key] = root
        return root


def forget() -> None:
    """Forget the folders decided so far (tests), so the next call decides again."""
    with _lock:
        _decisions.clear()
