"""Batch output written as it goes, that a kill at any moment leaves whole and resumable.

:func:`open_output` opens ``results.csv`` or ``results.parquet`` (the extension chooses),
checks that what it already holds is an output of this model with these columns
(:mod:`emovox.batch.rows`; anything else is refused unless ``force``, which starts over),
and tells the runner which files are :attr:`~CsvOutput.done`. The runner then hands it one
batch of rows at a time (:meth:`~CsvOutput.write`) and, when every file is done,
:meth:`~CsvOutput.finish` puts the rows in input order.

Why a kill at any moment (SIGKILL included) loses no row written and never duplicates a
file (every batch is also ``fsync``-ed, so a crash of the machine loses at most the batch
being written):

* **One writer.** An exclusive ``flock`` on ``.NAME.lock`` beside the output is held for the
  whole run; a second run on the same output is refused. The kernel drops the lock when its
  process dies, however it dies, so no stale lock survives a kill.
* **CSV: append whole batches.** A batch is encoded first, then appended with ``write`` on a
  file opened ``O_APPEND`` and ``fsync``-ed, and only then counted as done. A kill can cut a
  ``write`` short, so the file is always complete rows followed by at most one torn row.
  Text fields are quoted whenever they hold a comma, a quote or a line break, so a row is
  complete exactly when it parses with the header's number of fields, a known status, and
  ends in a newline. On reopening, an incomplete last row is cut off (and its file predicted
  again); an incomplete row *before* complete ones cannot come from a kill, so such a file
  is refused as not ours rather than repaired (an unbalanced quote is the exception: it
  runs to the end of the file, which is then cut from that row on and predicted again).
* **Parquet: immutable parts, then one rename.** Parquet cannot be appended to, so each
  batch is a part file in ``NAME.parts/``, written under a temporary name, ``fsync``-ed and
  renamed into place (``rename`` is atomic: a part is whole or absent). ``finish`` writes all
  rows to a temporary file beside ``NAME``, renames it over ``NAME``, then deletes the parts.
  A kill between that rename and the deletion leaves parts whose rows are also in ``NAME``;
  reopening takes the union by ``source``, so they count once and are compacted once.
* **Done means written.** A file is skipped on a rerun only if its row is in the output;
  the runner writes a row once per run and skips what was there, so no file appears twice.
  The final reordering (CSV) and compaction (Parquet) write a new file and rename it over
  the old one: a kill during either leaves the old, complete output and a temporary file
  that the next run deletes.

Until a Parquet batch finishes, its rows are in ``NAME.parts/`` (pandas reads that folder
as one table: ``pd.read_parquet("NAME.parts")``); a CSV batch is readable at any moment,
in the order batches finished. Parquet needs pyarrow (the ``parquet`` extra).
Without ``fcntl`` (Windows) the lock is skipped: do not run two batches on one output there.
"""

from __future__ import annotations

import csv
import glob
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd

from emovox.batch import rows
from emovox.errors import ParameterError

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
"""Output extensions (any case) and the format each one chooses."""

TMP_SUFFIX = ".emovox-tmp"
"""Files being written end in this until they are renamed into place."""


class Output:
    """What :func:`open_output` returns: the output's rows so far, and ways to add to it.

    Use as a context manager (or call :meth:`close`): it holds the output's lock.
    """

    format: str = ""

    def __init__(self, path: Path, *, columns: Sequence[str], model_id: str) -> None:
        self.path = path
        self.columns = list(columns)
        self.model_id = model_id
        self.done: dict[str, str] = {}
        """The ``status`` of every file already in the output, by ``source``."""
        self.notes: list[str] = []
        """What opening found and repaired, for a person (a torn last row, leftovers)."""
        self._lock: int | None = None

    def write(self, batch: pd.DataFrame) -> None:
        """Add the rows of one batch durably; their files then count as :attr:`done`."""
        raise NotImplementedError

    def finish(self, order: Sequence[str]) -> None:
        """Make the output final: rows of the files in ``order`` in that order, then any
        other rows the output held, in the order they were."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the lock (the output stays as written; a rerun resumes it)."""
        _unlock(self.path, self._lock)
        self._lock = None

    def __enter__(self) -> Output:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _record(self, batch: pd.DataFrame) -> None:
        for source, status in zip(batch[rows.KEY], batch["status"], strict=True):
            self.done[source] = status

    def _refuse(self, why: str) -> ParameterError:
        return ParameterError(
            f"'{self.path}' {why}. Choose another --out, or pass --force to start it over "
            "(its rows are deleted)."
        )

    def _check_row(self, source: str, status: str, model: str, where: str) -> None:
        if model != self.model_id:
            raise self._refuse(
                f"holds results of the model {model} ({where}), and this batch uses "
                f"{self.model_id}; rows of two models would not be comparable"
            )
        if source in self.done:
            raise self._refuse(f"is not a consistent emovox batch output: '{source}' appears twice")
        self.done[source] = status


def output_format(path: str | Path) -> str:
    """``"csv"`` or ``"parquet"`` for an output path, by its extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ParameterError(
            f"Cannot tell the output format of '{path}': end --out in .csv or .parquet."
        )
    return FORMATS[suffix]


def open_output(
    path: str | Path, *, columns: Sequence[str], model_id: str, force: bool = False
) -> Output:
    """Open the batch output ``path`` (created if absent) for rows of ``columns`` made by
    the model ``model_id``, and lock it for this process.

    Raises:
        ParameterError: for an unknown extension, a folder, an unwritable place, an output
            another run holds, or an existing output that is not this batch's (other
            columns, another model, not emovox's), unless ``force`` (then it is deleted).
    """
    path = check_output(path)
    cls = ParquetOutput if output_format(path) == "parquet" else CsvOutput
    return cls(path, columns=columns, model_id=model_id, force=force)


def check_output(path: str | Path) -> Path:
    """``path`` made absolute, if it can be a batch output (a known extension, pyarrow for
    Parquet, not a folder, a writable place); its folder is created. Reads nothing in it."""
    if str(path) in ("", "-"):
        raise ParameterError("Give the file to write the batch to (--out results.csv).")
    kind = output_format(path)
    from emovox.corpora.files import absolute

    path = absolute(path)
    if kind == "parquet":
        _require_pyarrow()
    _check_place(path)
    return path


# -- CSV -------------------------------------------------------------------------------
class CsvOutput(Output):
    """A CSV file: a header, then whole rows appended one batch at a time."""

    format = "csv"

    def __init__(
        self, path: Path, *, columns: Sequence[str], model_id: str, force: bool = False
    ) -> None:
        super().__init__(path, columns=columns, model_id=model_id)
        self._header = encode_csv_rows([self.columns])
        self._fd: int | None = None
        self._lock = _lock(path)
        try:
            _remove_leftovers(path)
            if force and path.exists():
                path.unlink()
                self.notes.append(f"--force: started '{path.name}' over.")
            if not path.exists() or path.stat().st_size == 0:
                _write_new(path, self._header)
            else:
                self._resume(path.read_bytes())
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        except BaseException:
            self.close()
            raise

    def _resume(self, data: bytes) -> None:
        end = data.find(b"\n") + 1
        if end == 0:  # not even a whole header
            if self._header.startswith(data):
                _write_new(self.path, self._header)
                self.notes.append("The header was incomplete (an interrupted start); rewrote it.")
                return
            raise self._refuse("is not an emovox batch output (it has no header line)")
        if data[:end] != self._header:
            raise self._refuse(self._header_mismatch(data[:end]))
        index = {name: i for i, name in enumerate(self.columns)}
        for line, start, stop, fields in _csv_records(data, end):
            whole = (
                fields is not None
                and len(fields) == len(self.columns)
                and fields[index["status"]] in rows.STATUSES
                and fields[index[rows.KEY]] != ""
            )
            if whole:
                assert fields is not None
                self._check_row(
                    fields[index[rows.KEY]],
                    fields[index["status"]],
                    fields[index[rows.MODEL]],
                    f"line {line}",
                )
                continue
            if stop < len(data):
                raise self._refuse(
                    f"is not a consistent emovox batch output: line {line} is not a whole row, "
                    "and whole rows follow it (an interrupted run can only leave an incomplete "
                    "last row)"
                )
            os.truncate(self.path, start)
            _fsync_path(self.path)
            self.notes.append(
                f"Dropped an incomplete last row ({stop - start} bytes, line {line}) left by an "
                "interrupted run; its file is predicted again."
            )

    def _header_mismatch(self, line: bytes) -> str:
        try:
            found = next(csv.reader([line.decode("utf-8")]))
        except (UnicodeDecodeError, csv.Error, StopIteration):
            found = []
        if found[:2] != [rows.KEY, "status"] or not found or found[-1] != rows.MODEL:
            return f"is not an emovox batch output (its header is {line[:200]!r})"
        classes = [c[2:] for c in found if c.startswith("p_")]
        wanted = [c[2:] for c in self.columns if c.startswith("p_")]
        if classes != wanted:
            return (
                f"holds probabilities of the classes {','.join(classes)}, and this batch "
                f"answers with {','.join(wanted)} (give the same --classes as before)"
            )
        return f"has the columns {','.join(found)}, and this batch writes {','.join(self.columns)}"

    def write(self, batch: pd.DataFrame) -> None:
        if self._fd is None:
            raise ParameterError(f"The output '{self.path}' is closed.")
        data = encode_csv_rows(batch[self.columns].itertuples(index=False, name=None))
        _write_all(self._fd, data)
        os.fsync(self._fd)
        self._record(batch)

    def finish(self, order: Sequence[str]) -> None:
        self._close_file()
        data = self.path.read_bytes()
        end = len(self._header)
        key = self.columns.index(rows.KEY)
        records = [
            (fields[key], data[start:stop])
            for _, start, stop, fields in _csv_records(data, end)
            if fields is not None
        ]
        ordered = _in_order(records, order)
        if ordered == records:
            return
        _replace(self.path, [self._header, *(line for _, line in ordered)])

    def close(self) -> None:
        self._close_file()
        super().close()

    def _close_file(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def encode_csv_rows(records: Any) -> bytes:
    """Rows of values as CSV lines (UTF-8, ``\\n`` endings): None and NaN empty, floats
    exact (``repr``), text quoted whenever it holds a comma, a quote, a line break, or
    space at either end."""
    lines = []
    for record in records:
        lines.append(",".join(_csv_field(value) for value in record) + "\n")
    return "".join(lines).encode("utf-8")


def _csv_field(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, float | np.floating):
        return repr(float(value))
    text = str(value)
    if any(c in text for c in ',"\r\n') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_records(data: bytes, start: int) -> Iterator[tuple[int, int, int, list[str] | None]]:
    """``(line, start, stop, fields)`` of each record of ``data[start:]``; ``fields`` is None
    for a record that does not parse or does not end in a newline (nothing follows it)."""
    consumed = start

    def lines() -> Iterator[str]:
        nonlocal consumed
        while consumed < len(data):
            cut = data.find(b"\n", consumed)
            stop = len(data) if cut < 0 else cut + 1
            chunk = data[consumed:stop]
            consumed = stop
            yield chunk.decode("utf-8")

    reader = csv.reader(lines(), strict=True)
    begin = start
    line = data.count(b"\n", 0, start) + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError):
            yield line, begin, len(data), None
            return
        whole = data[consumed - 1 : consumed] == b"\n"
        yield line, begin, consumed, fields if whole else None
        if not whole:
            return
        line += data.count(b"\n", begin, consumed)
        begin = consumed


# -- Parquet ---------------------------------------------------------------------------
class ParquetOutput(Output):
    """A Parquet file, made at the end from part files written one batch at a time."""

    format = "parquet"

    def __init__(
        self, path: Path, *, columns: Sequence[str], model_id: str, force: bool = False
    ) -> None:
        super().__init__(path, columns=columns, model_id=model_id)
        self.parts = parts_folder(path)
        self.schema = arrow_schema(self.columns)
        self._next = 0
        self._final: set[str] = set()
        self._lock = _lock(path)
        try:
            _remove_leftovers(path)
            if force and (path.exists() or self.parts.exists()):
                path.unlink(missing_ok=True)
                shutil.rmtree(self.parts, ignore_errors=True)
                self.notes.append(f"--force: started '{path.name}' over.")
            if self.parts.exists() and not self.parts.is_dir():
                raise self._refuse(f"cannot keep its parts in '{self.parts}' (a file is there)")
            if path.exists():
                self._read(path, what="the file", final=True)
            for part in self._part_files():
                self._read(part, what=f"part {part.name}", final=False)
        except BaseException:
            self.close()
            raise

    def _part_files(self) -> list[Path]:
        if not self.parts.is_dir():
            return []
        for leftover in self.parts.glob(f"*{TMP_SUFFIX}"):
            leftover.unlink(missing_ok=True)
        found = sorted(self.parts.glob("part-*.parquet"))
        numbers = [int(p.stem.split("-")[1]) for p in found if p.stem.split("-")[1].isdigit()]
        self._next = max(numbers, default=-1) + 1
        return found

    def _read(self, file: Path, *, what: str, final: bool) -> None:
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(file)
        except Exception as exc:
            if final:
                raise self._refuse(f"is not a Parquet file ({exc})") from None
            file.unlink()  # parts are renamed into place whole: this one was damaged after
            self.notes.append(f"Removed the unreadable {what} ({exc}); its files are redone.")
            return
        if schema.names != self.columns:
            if final and (not schema.names or schema.names[0] != rows.KEY):
                raise self._refuse("is not an emovox batch output")
            raise self._refuse(
                f"has the columns {','.join(schema.names)} ({what}), and this batch writes "
                f"{','.join(self.columns)} (give the same --classes and model as before)"
            )
        for found, wanted in zip(schema, self.schema, strict=True):
            if not _compatible(found.type, wanted.type):
                raise self._refuse(
                    f"has the column {found.name} of type {found.type} ({what}), where a batch "
                    f"writes {wanted.type}"
                )
        table = pq.read_table(file, columns=[rows.KEY, "status", rows.MODEL]).to_pydict()
        for source, status, model in zip(
            table[rows.KEY], table["status"], table[rows.MODEL], strict=True
        ):
            if not final and source in self._final:
                continue  # a part compacted into the file, then a kill before it was deleted
            self._check_row(source, status, model, what)
        if final:
            self._final = set(table[rows.KEY])

    def write(self, batch: pd.DataFrame) -> None:
        name = f"part-{self._next:06d}.parquet"
        write_parquet_part(batch[self.columns], self.parts, name, schema=self.schema)
        self._next += 1
        self._record(batch)

    def finish(self, order: Sequence[str]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts = self._part_files()
        if not parts and self.path.exists():
            return
        tables = [pq.read_table(self.path)] if self.path.exists() else []
        tables += [pq.read_table(part) for part in parts]
        table = (
            pa.concat_tables([t.cast(self.schema) for t in tables])
            if tables
            else self.schema.empty_table()
        )
        sources = table.column(rows.KEY).to_pylist()
        first: dict[str, int] = {}
        for i, source in enumerate(sources):
            first.setdefault(source, i)
        records = [(source, i) for source, i in first.items()]
        table = table.take([i for _, i in _in_order(records, order)])
        _replace(self.path, table=table)
        shutil.rmtree(self.parts, ignore_errors=True)
        _fsync_path(self.path.parent)


def _compatible(found: Any, wanted: Any) -> bool:
    """Whether a column of type ``found`` holds what a batch writes as ``wanted`` (other
    writers store text as large strings, and a column of nothing but nulls as null)."""
    import pyarrow as pa

    if found == wanted or pa.types.is_null(found):
        return True
    if pa.types.is_string(wanted):
        return pa.types.is_large_string(found)
    return pa.types.is_floating(wanted) and pa.types.is_floating(found)


def parts_folder(path: str | Path) -> Path:
    """Where a Parquet output keeps its parts until the batch finishes: ``NAME.parts``."""
    path = Path(path)
    return path.with_name(path.name + ".parts")


def arrow_schema(columns: Sequence[str]) -> Any:
    """The pyarrow schema of batch rows with ``columns`` (:mod:`emovox.batch.rows`)."""
    import pyarrow as pa

    def kind(column: str) -> Any:
        if column == "speech":
            return pa.bool_()
        return pa.string() if column in rows.TEXT else pa.float64()

    return pa.schema([pa.field(column, kind(column)) for column in columns])


def write_parquet_part(batch: pd.DataFrame, folder: Path, name: str, *, schema: Any) -> Path:
    """Write ``batch`` as ``folder/name`` all at once: a temporary file, fsync, rename."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(batch, schema=schema, preserve_index=False)
    target = folder / name
    temporary = folder / f".{name}{TMP_SUFFIX}"
    pq.write_table(table.replace_schema_metadata(None), temporary)
    _fsync_path(temporary)
    os.replace(temporary, target)
    _fsync_path(folder)
    return target


def _require_pyarrow() -> None:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ParameterError(
            "Parquet output needs pyarrow: pip install 'emovox[parquet]' (or end --out in .csv)."
        ) from None


# -- shared ----------------------------------------------------------------------------
def _in_order(records: list[tuple[str, Any]], order: Sequence[str]) -> list[tuple[str, Any]]:
    """``records`` (``(source, x)``) sorted by the position of ``source`` in ``order``;
    records of other sources follow, in their own order."""
    position = {source: i for i, source in enumerate(order)}
    last = len(position)
    return sorted(records, key=lambda r: position.get(r[0], last))


def _check_place(path: Path) -> None:
    if path.is_dir():
        raise ParameterError(f"'{path}' is a folder; --out is a file ending in .csv or .parquet.")
    parent = path.parent
    current = parent
    while not current.exists() and current != current.parent:
        current = current.parent
    if not current.is_dir():
        raise ParameterError(f"'{path}' cannot be created because '{current}' is a file.")
    if not os.access(current, os.W_OK | os.X_OK):
        raise ParameterError(f"Cannot write '{path}': '{current}' is not writable.")
    parent.mkdir(parents=True, exist_ok=True)


def _lock(path: Path) -> int | None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    lock = path.with_name(f".{path.name}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ParameterError(
            f"Another emovox run is writing '{path}' now; wait for it to end, or choose "
            "another --out."
        ) from None
    return fd


def _unlock(path: Path, fd: int | None) -> None:
    if fd is None:
        return
    path.with_name(f".{path.name}.lock").unlink(missing_ok=True)
    os.close(fd)


def _remove_leftovers(path: Path) -> None:
    """Delete temporary files an interrupted run left beside ``path``."""
    for leftover in path.parent.glob(f"{glob.escape('.' + path.name)}.*{TMP_SUFFIX}"):
        leftover.unlink(missing_ok=True)


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_path(path.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _replace(path: Path, chunks: Sequence[bytes] = (), *, table: Any = None) -> None:
    """Write a new ``path`` beside it (``chunks`` of bytes, or a pyarrow ``table`` as
    Parquet), fsync it, and rename it over ``path``."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}{TMP_SUFFIX}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    try:
        try:
            for chunk in chunks:
                _write_all(fd, chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
        if table is not None:
            import pyarrow.parquet as pq

            pq.write_table(table.replace_schema_metadata(None), temporary)
            _fsync_path(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_path(path.parent)


def _fsync_path(path: Path) -> None:
    """fsync a file, or a folder (so that a rename in it is durable)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - folders cannot be opened on some systems
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)
