"""Read a CTranslate2 ``model.bin`` with numpy: no ctranslate2, no pickle.

The layout, as written by ``ctranslate2.specs.model_spec.ModelSpec._serialize``
(binary version 6; all integers little-endian)::

    u32 binary_version
    str spec_name                      # str = u16 length (incl. NUL), utf-8 bytes, NUL
    u32 spec_revision
    u32 n_variables
    n_variables x:
        str name
        u8  rank
        rank x u32 dim
        u8  dtype id                   # 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16
        u32 n_bytes
        n_bytes raw data (C order)
    u32 n_aliases
    n_aliases x: str alias, str target

The file may be given as several parts that concatenate to it (wheels on PyPI split
it in two); arrays are memory-mapped from the part that holds them, so nothing is copied
except a tensor that straddles two parts.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emovox.errors import ModelError

DTYPES: tuple[str, ...] = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
"""Type ids of the format, in order."""

SUPPORTED_BINARY_VERSIONS = (6,)
"""Versions whose layout is the one above (ctranslate2 >= 3 writes version 6)."""


@dataclass
class Ct2Model:
    """The parsed content of a ``model.bin``.

    ``variables`` maps names (``encoder/layer_0/ffn/linear_0/weight``...) to arrays in
    their stored dtype; bfloat16 arrays are returned as float32. Scalars have shape ().
    """

    spec: str
    revision: int
    binary_version: int
    variables: dict[str, np.ndarray] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> np.ndarray:
        """The array ``name``, following aliases; :class:`ModelError` if absent."""
        name = self.aliases.get(name, name)
        if name not in self.variables:
            raise ModelError(
                f"The {self.spec} model has no variable '{name}'; the file is incomplete "
                "or of another architecture."
            )
        return self.variables[name]

    def has(self, name: str) -> bool:
        """Whether ``name`` (or an alias of that name) is stored."""
        return self.aliases.get(name, name) in self.variables

    def float32(self, name: str) -> np.ndarray:
        """``name`` as a new float32 array; int8/int16 weights stored with a ``<name>_scale``
        are dequantized as CTranslate2 quantized them (``value / scale``, per row)."""
        value = self.get(name)
        scale_name = f"{name}_scale"
        if value.dtype in (np.int8, np.int16) and self.has(scale_name):
            scale = self.get(scale_name).astype(np.float32)
            flat = value.reshape(value.shape[0], -1).astype(np.float32)
            flat = flat / (scale if scale.ndim == 0 else scale.reshape(-1, 1))
            return flat.reshape(value.shape)
        return np.array(value, dtype=np.float32)


class _Parts:
    """Random access to the concatenation of several files, as one byte stream."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = [Path(p) for p in paths]
        self.sizes = [p.stat().st_size for p in self.paths]
        self.starts = [sum(self.sizes[:i]) for i in range(len(self.sizes))]
        self.total = sum(self.sizes)
        self._maps: dict[int, np.memmap] = {}

    def _map(self, index: int) -> np.memmap:
        if index not in self._maps:
            self._maps[index] = np.memmap(self.paths[index], dtype=np.uint8, mode="r")
        return self._maps[index]

    def read(self, offset: int, size: int) -> np.ndarray:
        """``size`` bytes from ``offset`` as a uint8 array (a view when inside one part)."""
        if size < 0 or offset + size > self.total:
            raise ModelError(
                f"'{self.paths[0]}' is truncated: wanted bytes {offset}..{offset + size} of "
                f"a {self.total}-byte model."
            )
        chunks = []
        end = offset + size
        for i, (start, length) in enumerate(zip(self.starts, self.sizes, strict=True)):
            lo, hi = max(offset, start), min(end, start + length)
            if lo < hi:
                chunks.append(self._map(i)[lo - start : hi - start])
        if len(chunks) == 1:
            return chunks[0]
        return np.concatenate(chunks) if chunks else np.empty(0, np.uint8)


class _Cursor:
    def __init__(self, parts: _Parts) -> None:
        self.parts = parts
        self.pos = 0

    def raw(self, size: int) -> np.ndarray:
        data = self.parts.read(self.pos, size)
        self.pos += size
        return data

    def unpack(self, fmt: str) -> int:
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.raw(size).tobytes())[0]

    def string(self) -> str:
        length = self.unpack("<H")
        data = self.raw(length).tobytes()
        return data[:-1].decode("utf-8")


def _as_array(raw: np.ndarray, dtype_id: int, shape: tuple[int, ...], name: str) -> np.ndarray:
    if dtype_id >= len(DTYPES):
        raise ModelError(f"Variable '{name}' has an unknown dtype id {dtype_id}.")
    dtype = DTYPES[dtype_id]
    if dtype == "bfloat16":
        bits = raw.view("<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(shape)
    array = raw.view(np.dtype(dtype).newbyteorder("<"))
    expected = int(np.prod(shape, dtype=np.int64))
    if array.size != expected:
        raise ModelError(
            f"Variable '{name}' holds {array.size} values for shape {shape}; the file is corrupt."
        )
    return array.reshape(shape)


def read_ct2_model(
    parts: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    keep: Callable[[str], bool] | None = None,
) -> Ct2Model:
    """Parse a ``model.bin`` (or the parts that concatenate to it).

    Args:
        parts: the file, or its parts in order.
        keep: a predicate on variable names; others are skipped without being read.

    Raises:
        ModelError: when the file is missing, truncated or not a CTranslate2 model.
    """
    paths = [Path(parts)] if isinstance(parts, (str, os.PathLike)) else [Path(p) for p in parts]
    for path in paths:
        if not path.is_file():
            raise ModelError(f"Model file '{path}' does not exist.")
    cursor = _Cursor(_Parts(paths))
    try:
        version = cursor.unpack("<I")
        if version not in SUPPORTED_BINARY_VERSIONS:
            raise ModelError(
                f"'{paths[0]}' has CTranslate2 binary version {version}; emovox reads "
                f"versions {SUPPORTED_BINARY_VERSIONS}. Is this a CTranslate2 model.bin?"
            )
        model = Ct2Model(spec=cursor.string(), revision=cursor.unpack("<I"), binary_version=version)
        for _ in range(cursor.unpack("<I")):
            name = cursor.string()
            rank = cursor.unpack("<B")
            shape = tuple(cursor.unpack("<I") for _ in range(rank))
            dtype_id = cursor.unpack("<B")
            n_bytes = cursor.unpack("<I")
            if keep is not None and not keep(name):
                cursor.pos += n_bytes
                continue
            model.variables[name] = _as_array(cursor.raw(n_bytes), dtype_id, shape, name)
        for _ in range(cursor.unpack("<I")):
            alias = cursor.string()
            model.aliases[alias] = cursor.string()
    except (struct.error, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"'{paths[0]}' is not a readable CTranslate2 model ({exc}).") from None
    if cursor.pos != cursor.parts.total:
        raise ModelError(
            f"'{paths[0]}' has {cursor.parts.total - cursor.pos} unexpected trailing bytes; "
            "were the parts concatenated in the wrong order?"
        )
    return model
