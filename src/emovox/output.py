"""Output folders: judged before any work starts, written so that nothing is lost.

``emovox train --out X`` and ``emovox evaluate --out X`` may run for an hour before they
write anything. :func:`check_output_folder` says at once whether ``X`` can hold the
result (not a file, not under a file, creatable, writable, empty unless ``force``), and
:func:`replace_folder_contents` writes the result next to ``X`` first and moves it into
place, so that an error while writing never leaves half of one model and half of another.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from emovox.errors import ParameterError


def _nearest_existing(path: Path) -> Path:
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def check_output_folder(
    path: str | Path, *, force: bool = False, owned: tuple[str, ...] = (), what: str = "output"
) -> list[str]:
    """Raise :class:`ParameterError` now if ``path`` cannot receive the ``what`` folder.

    ``owned`` names the entries this output writes; an existing non-empty folder is
    refused unless ``force``, and with ``force`` only ``owned`` entries are replaced.
    Returns the names of the existing entries that will be overwritten (for a message).
    """
    path = Path(path).expanduser()
    if str(path) in ("", "-"):
        raise ParameterError(f"Give a folder for the {what} (--out).")
    if path.exists() and not path.is_dir():
        raise ParameterError(
            f"'{path}' is a file; the {what} is a folder. Choose a new folder name for --out."
        )
    existing = _nearest_existing(path.absolute())
    if not existing.is_dir():
        raise ParameterError(
            f"'{path}' cannot be created because '{existing}' is a file, not a folder."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(f"Cannot write the {what} to '{path}': '{existing}' is not writable.")
    if not path.is_dir():
        return []
    entries = sorted(p.name for p in path.iterdir())
    if not entries:
        return []
    overwritten = [name for name in entries if name in owned]
    if not force:
        listing = ", ".join(entries[:5]) + (" ..." if len(entries) > 5 else "")
        raise ParameterError(
            f"'{path}' already holds files ({listing}). Choose a new or empty folder, or pass "
            f"--force to replace the {what} there"
            + (f" (overwrites {', '.join(overwritten)})." if overwritten else ".")
        )
    return overwritten


def staging_folder(path: str | Path) -> Path:
    """A new empty folder beside ``path`` (same file system) to write into first."""
    path = Path(path).expanduser().absolute()
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=parent))


def replace_folder_contents(staged: Path, path: str | Path) -> Path:
    """Move every entry of ``staged`` into ``path`` (created), replacing entries of the same
    name, then remove ``staged``. Entries of ``path`` that ``staged`` lacks are kept."""
    path = Path(path).expanduser()
    if not path.exists():
        staged.rename(path)
        return path
    for entry in staged.iterdir():
        target = path / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        entry.rename(target)
    staged.rmdir()
    return path
