"""The output of a Dask batch: a partitioned Parquet dataset that a rerun resumes.

::

    OUT/                       a local folder or any fsspec URL (s3://bucket/prefix, ...)
      _emovox_batch.json       what the batch is (see below); written before any part
      part-000000.parquet      the rows of input files 0 .. B-1 (B: the batch size)
      part-000001.parquet      files B .. 2B-1, and so on
      _SUCCESS                 written once every part is there and checked
      .emovox.lock             (local folders) held by the run writing the folder

``pd.read_parquet("OUT")`` (or Spark, DuckDB, Polars: ``OUT/*.parquet``) reads every part
as one table; names starting with ``_`` or ``.`` are not data and every reader skips them.

Why every input file ends up in the output exactly once, whatever is killed on the way:

* **Parts are fixed before the run.** Part *i* holds the files ``i*B .. (i+1)*B - 1`` of
  the input list, which is deterministic (:mod:`emovox.batch.sources`), so a rerun computes
  the same parts; a part file holds exactly its files' rows, checked before it is written.
* **A part is whole or absent.** Locally it is written under a temporary name, ``fsync``-ed
  and renamed into place; on object stores (s3, gs, ...) an object appears whole or not at
  all. A part's presence is what "done" means: a rerun computes the missing parts only.
* **One writer.** Only the client writes (workers return rows), and locally an exclusive
  ``flock`` on ``.emovox.lock`` refuses a second run on the same folder; the kernel drops
  it when its process dies, however it dies. (On object stores, do not start two runs on
  one prefix.)
* **Same batch or refused.** ``_emovox_batch.json`` records the mode, the number of input
  files and a sha256 of their list, the batch size, the model id, the classes, the timeline
  options and the columns. A rerun whose description differs is refused with what differs,
  since its parts would not line up with the ones there; so is a folder of other files.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from emovox.batch.sources import is_url, local_path
from emovox.batch.writer import TMP_SUFFIX, write_parquet_part
from emovox.corpora.files import absolute
from emovox.errors import EmovoxError, ParameterError

if TYPE_CHECKING:
    import pandas as pd

DESCRIPTION = "_emovox_batch.json"
SUCCESS = "_SUCCESS"
LOCK = ".emovox.lock"
FORMAT = "emovox-batch/1"

COMPARED = ("format", "mode", "files", "inputs_sha256", "batch_size", "model", "classes",
            "timeline", "columns")  # fmt: skip
"""Keys of the description that a rerun must match."""

_PART = re.compile(r"part-(\d+)\.parquet")


def part_name(index: int, parts: int) -> str:
    """The file name of part ``index`` of ``parts`` (zero-padded: names sort in order)."""
    return f"part-{index:0{max(6, len(str(parts - 1)))}d}.parquet"


def check_out(out: str | os.PathLike[str]) -> str:
    """``out`` as the batch will use it (a local folder made absolute, or a URL), if it can
    be one: not a file, and a local one under a folder that can be written. Reads nothing
    in it."""
    text = os.fspath(out) if isinstance(out, str | os.PathLike) else None
    if not text or not text.strip() or text == "-":
        raise ParameterError("Give the folder to write the batch to (--out results/).")
    if is_url(text):
        fs, root = _filesystem(text)
        try:
            is_file = fs.isfile(root)
        except OSError as exc:
            raise ParameterError(f"Cannot reach --out '{text}' ({exc}).") from None
        if is_file:
            raise ParameterError(
                f"'{text}' is a file; --out is the folder (prefix) of a Parquet dataset."
            )
        return text
    path = absolute(local_path(text))
    if path.exists() and not path.is_dir():
        raise ParameterError(
            f"'{path}' is a file; --out is the folder of a partitioned Parquet dataset "
            "(for one file use `emovox predict DIR --out results.parquet`)."
        )
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    if not current.is_dir() or not os.access(current, os.W_OK | os.X_OK):
        raise ParameterError(f"Cannot write --out '{path}': '{current}' is not a writable folder.")
    return str(path)


def _filesystem(url: str) -> tuple[Any, str]:
    try:
        import fsspec

        return fsspec.core.url_to_fs(url)
    except ImportError:
        raise ParameterError("Writing to a URL needs fsspec: pip install 'emovox[dask]'.") from None
    except ValueError as exc:
        raise ParameterError(f"Cannot open --out '{url}' ({exc}).") from None


class DatasetOutput:
    """An open batch output: which parts are :attr:`done`, and a way to add one.

    Use as a context manager (or call :meth:`close`): it holds the folder's lock.
    """

    def __init__(self, out: str, *, description: dict[str, Any]) -> None:
        self.out = out
        self.description = dict(description)
        self.parts = int(description["parts"])
        self.done: set[int] = set()
        """The parts already written (by this run or an earlier one)."""
        self.notes: list[str] = []
        """What opening found and cleaned up, for a person."""
        self._lock: int | None = None
        self.local = not is_url(out)
        if self.local:
            self.fs: Any = None
            self.root = out
        else:
            self.fs, self.root = _filesystem(out)
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # -- opening -----------------------------------------------------------------------
    def _open(self) -> None:
        if self.local:
            try:
                Path(self.root).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ParameterError(
                    f"Cannot create --out '{self.root}' ({exc.strerror or exc})."
                ) from None
            self._lock = _lock(Path(self.root))
        else:
            self.fs.makedirs(self.root, exist_ok=True)
        names = self._names()
        if DESCRIPTION in names:
            self._compare(_parse(self._read(DESCRIPTION), self.out))
        else:
            others = sorted(n for n in names if not n.startswith(".") and n != SUCCESS)
            if others:
                raise ParameterError(
                    f"'{self.out}' already holds files that are not an emovox batch "
                    f"({', '.join(others[:3])}{' ...' if len(others) > 3 else ''}); give a "
                    "new or empty folder to --out."
                )
            self._write_bytes(DESCRIPTION, (json.dumps(self.description, indent=2) + "\n").encode())
        for name in names:
            if self.local and name.startswith(".") and name.endswith(TMP_SUFFIX):
                os.unlink(os.path.join(self.root, name))
                self.notes.append(f"removed {name}, left unfinished by an interrupted run")
            match = _PART.fullmatch(name)
            if match is None:
                continue
            index = int(match.group(1))
            if index >= self.parts or name != part_name(index, self.parts):
                raise ParameterError(
                    f"'{self.out}' holds '{name}', which is no part of this batch "
                    f"({self.parts} parts); give a new folder to --out."
                )
            self.done.add(index)
        if SUCCESS in names and len(self.done) < self.parts:
            self._remove(SUCCESS)  # parts were deleted since: complete again first

    def _compare(self, found: dict[str, Any]) -> None:
        compare(self.out, found, self.description, COMPARED)

    # -- writing -----------------------------------------------------------------------
    def write(self, index: int, rows: pd.DataFrame, *, schema: Any) -> None:
        """Write part ``index`` all at once (it then counts as :attr:`done`)."""
        name = part_name(index, self.parts)
        if self.local:
            write_parquet_part(rows, Path(self.root), name, schema=schema)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(rows, schema=schema, preserve_index=False)
            buffer = io.BytesIO()
            pq.write_table(table.replace_schema_metadata(None), buffer)
            self._write_bytes(name, buffer.getvalue())
        self.done.add(index)

    def finish(self) -> None:
        """Mark the dataset complete (``_SUCCESS``); every part must be there."""
        if len(self.done) != self.parts:
            raise EmovoxError(f"'{self.out}' lacks {self.parts - len(self.done)} parts.")
        self._write_bytes(SUCCESS, b"")

    def read(self, columns: Sequence[str]) -> pd.DataFrame:
        """``columns`` of every part, in part order."""
        import pyarrow.dataset as ds

        names = [part_name(i, self.parts) for i in range(self.parts)]
        if self.local:
            files = [os.path.join(self.root, n) for n in names]
            dataset = ds.dataset(files, format="parquet")
        else:
            from pyarrow.fs import FSSpecHandler, PyFileSystem

            files = [f"{self.root.rstrip('/')}/{n}" for n in names]
            filesystem = PyFileSystem(FSSpecHandler(self.fs))
            dataset = ds.dataset(files, format="parquet", filesystem=filesystem)
        return dataset.to_table(columns=list(columns)).to_pandas()

    def close(self) -> None:
        """Release the lock (the folder stays as written; a rerun resumes it)."""
        if self._lock is not None:
            Path(self.root, LOCK).unlink(missing_ok=True)
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> DatasetOutput:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the folder, local or remote -----------------------------------------------------
    def _names(self) -> list[str]:
        if self.local:
            return os.listdir(self.root)
        try:
            listed = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:  # an object store's prefix exists once it holds an object
            return []
        root = self.root.rstrip("/")
        return [p.rstrip("/").rsplit("/", 1)[-1] for p in listed if p.rstrip("/") != root]

    def _read(self, name: str) -> bytes:
        if self.local:
            return Path(self.root, name).read_bytes()
        return self.fs.cat_file(f"{self.root.rstrip('/')}/{name}")

    def _write_bytes(self, name: str, data: bytes) -> None:
        if not self.local:  # an object appears whole or not at all
            self.fs.pipe_file(f"{self.root.rstrip('/')}/{name}", data)
            return
        target = Path(self.root, name)
        temporary = Path(self.root, f".{name}{TMP_SUFFIX}")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)

    def _remove(self, name: str) -> None:
        if self.local:
            Path(self.root, name).unlink(missing_ok=True)
        else:
            self.fs.rm_file(f"{self.root.rstrip('/')}/{name}")


def precheck(out: str, wanted: dict[str, Any]) -> None:
    """Refuse at once to resume ``out`` when its description differs from ``wanted`` in a
    key ``wanted`` has (those known before any worker runs: inputs, batch size, mode)."""
    try:
        if is_url(out):
            fs, root = _filesystem(out)
            data = fs.cat_file(f"{root.rstrip('/')}/{DESCRIPTION}")
        else:
            data = Path(out, DESCRIPTION).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise ParameterError(f"Cannot read '{out}' ({exc}).") from None
    compare(out, _parse(data, out), wanted, [k for k in COMPARED if k in wanted])


def _parse(data: bytes, out: str) -> dict[str, Any]:
    try:
        found = json.loads(data)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise ParameterError(
            f"'{out}/{DESCRIPTION}' is not an emovox batch description; give a new folder to --out."
        )
    return found


def compare(out: str, found: dict[str, Any], wanted: dict[str, Any], keys: Sequence[str]) -> None:
    """Raise :class:`ParameterError` naming the first of ``keys`` in which the description
    ``found`` in ``out`` differs from the ``wanted`` one."""
    differs = [key for key in keys if found.get(key) != wanted.get(key)]
    if not differs:
        return

    def classes(value: Any) -> str:
        return ", ".join(value) if value else "all"

    key = differs[0]
    what = {
        "format": lambda: f"was written by another emovox format ({found.get('format')})",
        "mode": lambda: (
            f"holds a {found.get('mode')} batch, and this run is a {wanted['mode']} batch"
        ),
        "files": lambda: (
            f"holds a batch of {found.get('files')} input files, and this "
            f"input lists {wanted['files']}"
        ),
        "inputs_sha256": lambda: (
            "holds a batch of other input files (the same number, "
            f"not the same list: it started with '{found.get('first_input')}')"
        ),
        "batch_size": lambda: (
            f"was made with --batch-size {found.get('batch_size')}, and "
            f"this run uses {wanted['batch_size']} (rerun with --batch-size "
            f"{found.get('batch_size')} to resume it)"
        ),
        "model": lambda: (
            f"holds results of the model {found.get('model')}, and this run uses {wanted['model']}"
        ),
        "classes": lambda: (
            f"was made with the classes {classes(found.get('classes'))}, "
            f"and this run asks for {classes(wanted['classes'])}"
        ),
        "timeline": lambda: (
            f"was made with the timeline options {found.get('timeline')}, "
            f"and this run uses {wanted['timeline']}"
        ),
        "columns": lambda: "holds other columns than this run writes",
    }[key]()
    raise ParameterError(
        f"Cannot resume '{out}': it {what}; its parts would not line up with this "
        "run's. Give another --out, or delete that folder to start over."
    )


def _lock(folder: Path) -> int | None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ParameterError(
            f"Another emovox batch is writing '{folder}' now; wait for it to end, or give "
            "another --out."
        ) from None
    return fd
