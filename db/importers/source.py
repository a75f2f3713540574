"""Reading a CSV export safely: sniffing, encoding check, header mapping and chunked rows.

Every problem with the *file as a whole* (empty, a workbook instead of a CSV, undecodable,
missing columns) raises ``ImportFileError`` before anything is written, with a message that
says what was wrong and how to fix it.  Problems with single rows are left to the format
modules, which reject them one by one.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import pandas as pd

_READ_BLOCK = 1 << 20
_CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
_MAGIC = {
    b"PK\x03\x04": "a ZIP archive or an Excel .xlsx workbook: open it and save it as CSV (UTF-8), "
                   "or unzip it first",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook: open it and save it as CSV (UTF-8)",
    b"%PDF": "a PDF document, not a CSV export",
    b"\x89PNG": "a PNG image, not a CSV export",
}


class ImportFileError(ValueError):
    """The file cannot be imported; the message tells the user how to fix it.

    ``nothing_written`` is False when the problem was only met part-way through the file:
    the batches before it are stored whole, and a re-run after the fix completes the import.
    """

    def __init__(self, message: str, nothing_written: bool = True) -> None:
        super().__init__(message)
        self.nothing_written = nothing_written


@dataclass(frozen=True)
class ColumnSpec:
    """A column a format understands: its canonical name and the header spellings accepted."""

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = True
    help: str = ""

    def accepted(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def header_key(header: str) -> str:
    """Compare headers loosely: ``Customer ID``, ``customer_id`` and ``CustomerID`` match."""
    return re.sub(r"[^0-9a-z]", "", header.strip().lstrip("\ufeff").lower())


@dataclass
class FileFacts:
    """What the first pass over the file learned (it also proves the encoding is right)."""

    sha256: str
    line_count: int
    delimiter: str
    header: list[str]


@dataclass
class RowChunk:
    """A slice of data rows, as strings, with the line each row started on."""

    frame: pd.DataFrame
    """Canonical columns (missing optional ones as empty strings) plus any extra columns."""
    line_numbers: list[int]
    malformed: list[tuple[int, str, list[str]]] = field(default_factory=list)
    """Rows whose field count did not match the header: (line, reason, raw fields)."""
    watermark: Any = None
    """From a database source: the largest watermark value in the chunk (where the next read resumes)."""
    null_watermarks: int = 0
    """From a database source: rows of the chunk whose watermark is empty."""

    @property
    def rows_in_chunk(self) -> int:
        return len(self.frame) + len(self.malformed)


def _open_binary(path: Path) -> BinaryIO:
    if path.suffix.lower() == ".gz":
        return cast(BinaryIO, gzip.open(path, "rb"))  # a GzipFile reads like any binary file
    return path.open("rb")


def _describe_magic(head: bytes) -> str | None:
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            return what
    if b"\x00" in head:
        return "a binary file (it contains NUL bytes), not a CSV export"
    return None


def inspect_file(path: Path, encoding: str) -> FileFacts:
    """First pass: reject non-CSV files and bad encodings, hash the content, count lines."""
    if not path.exists():
        raise ImportFileError(f"{path}: no such file")
    if path.is_dir():
        raise ImportFileError(f"{path} is a folder; give the path of a .csv or .csv.gz file")
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise ImportFileError(f"unknown encoding {encoding!r}; try utf-8, cp1252 or latin-1") from exc
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 0
    first_text = ""
    size = 0
    try:
        with _open_binary(path) as raw:
            while block := raw.read(_READ_BLOCK):
                if size == 0:
                    what = _describe_magic(block[:4096])
                    if what:
                        raise ImportFileError(f"{path.name} looks like {what}.")
                size += len(block)
                digest.update(block)
                try:
                    text = decoder.decode(block)
                except UnicodeDecodeError as exc:
                    bad_line = lines + block[: exc.start].count(b"\n") + 1
                    raise ImportFileError(
                        f"{path.name}: line {bad_line} is not valid {encoding} text "
                        f"(byte {block[exc.start:exc.start + 1]!r}). Spreadsheet exports from Windows "
                        "are often cp1252: retry with --encoding cp1252 (or latin-1)."
                    ) from exc
                if len(first_text) < 65536:
                    first_text += text[:65536]
                lines += block.count(b"\n")
            decoder.decode(b"", final=True)
    except (gzip.BadGzipFile, EOFError, OSError) as exc:
        if isinstance(exc, ImportFileError):
            raise
        raise ImportFileError(f"{path.name}: cannot be read as {'gzip' if path.suffix == '.gz' else 'a file'}"
                              f" ({exc})") from exc
    except UnicodeDecodeError as exc:  # the final flush of a truncated multi-byte character
        raise ImportFileError(f"{path.name} ends in the middle of a {encoding} character; "
                              "the file looks truncated") from exc
    if not first_text.strip():
        raise ImportFileError(f"{path.name} is empty: it has no header row and no data.")
    first_line = first_text.lstrip("\ufeff").splitlines()[0]
    delimiter = max(_CANDIDATE_DELIMITERS, key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    header = next(csv.reader([first_line], delimiter=delimiter))
    if not first_text.endswith("\n"):
        lines += 1
    return FileFacts(sha256=digest.hexdigest(), line_count=lines, delimiter=delimiter,
                     header=[h.strip().lstrip("\ufeff") for h in header])


def match_columns(header: Sequence[str], specs: Sequence[ColumnSpec]) -> tuple[dict[str, int], list[ColumnSpec]]:
    """Positions of the canonical columns found in ``header`` (loosely, see ``header_key``) and the
    required ones missing."""
    seen = {header_key(name): position for position, name in enumerate(header)}
    positions: dict[str, int] = {}
    missing: list[ColumnSpec] = []
    for spec in specs:
        hit = next((seen[header_key(a)] for a in spec.accepted() if header_key(a) in seen), None)
        if hit is None:
            if spec.required:
                missing.append(spec)
        else:
            positions[spec.name] = hit
    return positions, missing


def describe_missing(missing: Sequence[ColumnSpec]) -> str:
    """``sku (or product_code / stock_code); quantity (or qty)``: what a message asks for."""
    return "; ".join(spec.name + (f" (or {' / '.join(spec.aliases)})" if spec.aliases else "") for spec in missing)


def resolve_columns(
    header: Sequence[str],
    specs: Sequence[ColumnSpec],
    renames: Mapping[str, str],
    file_name: str,
) -> dict[str, int]:
    """Map canonical column names to positions in ``header``.

    ``renames`` comes from ``--map old=new``: a file column ``old`` is read as ``new``.
    Raises ``ImportFileError`` naming the missing columns and the ones that were found.
    """
    renamed = [renames.get(h, h) for h in header]
    seen: set[str] = set()
    for position, name in enumerate(renamed):
        key = header_key(name)
        if key in seen:
            raise ImportFileError(f"{file_name}: column {header[position]!r} appears twice in the header; "
                                  "rename or remove one of them.")
        seen.add(key)
    for old in renames:
        if old not in header:
            raise ImportFileError(f"--map {old}={renames[old]}: the file has no column {old!r} "
                                  f"(found: {', '.join(header)}).")
    positions, missing = match_columns(renamed, specs)
    if missing:
        raise ImportFileError(
            f"{file_name}: missing required column(s): {describe_missing(missing)}. "
            f"Found: {', '.join(header) or 'nothing'}. "
            "If a column has another name in your export, rename it with --map FOUND=EXPECTED, "
            f"e.g. --map '{header[0] if header else 'Order Number'}={missing[0].name}'."
        )
    return positions


def frame_of_rows(rows: Sequence[Sequence[str]], header: Sequence[str], positions: Mapping[str, int],
                  specs: Sequence[ColumnSpec], keep_extra: bool = False) -> pd.DataFrame:
    """Rows of strings as a frame of the canonical columns (missing optional ones empty), plus the
    other columns as ``extra:NAME`` when ``keep_extra``."""
    return frame_of_raw(pd.DataFrame(list(rows), columns=range(len(header)), dtype=object), header, positions,
                        specs, keep_extra)


def frame_of_raw(raw: pd.DataFrame, header: Sequence[str], positions: Mapping[str, int],
                 specs: Sequence[ColumnSpec], keep_extra: bool = False) -> pd.DataFrame:
    """``frame_of_rows`` for values already in columns numbered by position (strings throughout)."""
    width = len(header)
    frame = pd.DataFrame(index=raw.index)
    for spec in specs:
        position = positions.get(spec.name)
        frame[spec.name] = raw[position].str.strip() if position is not None else ""
    if keep_extra:
        for position in (i for i in range(width) if i not in positions.values()):
            frame[f"extra:{header[position]}"] = raw[position].str.strip()
    return frame


def read_chunks(
    path: Path,
    facts: FileFacts,
    encoding: str,
    positions: Mapping[str, int],
    specs: Sequence[ColumnSpec],
    chunk_rows: int,
    keep_extra: bool = False,
) -> Iterator[RowChunk]:
    """Yield data rows in chunks of at most ``chunk_rows`` rows, all values as stripped strings.

    Blank lines are skipped (they are not rows).  A row with the wrong number of fields is
    returned in ``RowChunk.malformed`` so the caller rejects it with its line number.
    """
    width = len(facts.header)

    def to_frame(rows: list[list[str]]) -> pd.DataFrame:
        return frame_of_rows(rows, facts.header, positions, specs, keep_extra)

    with _open_binary(path) as raw_file:
        text = io.TextIOWrapper(raw_file, encoding=encoding, newline="")
        reader = csv.reader(text, delimiter=facts.delimiter)
        try:
            next(reader)  # header, already read by inspect_file
            rows: list[list[str]] = []
            lines: list[int] = []
            malformed: list[tuple[int, str, list[str]]] = []
            last_line = reader.line_num
            for record in reader:
                start_line = last_line + 1
                last_line = reader.line_num
                if len(record) == width:
                    rows.append(record)
                    lines.append(start_line)
                elif not record or (len(record) == 1 and not record[0].strip()):
                    continue
                else:
                    malformed.append((start_line, f"expected {width} fields, found {len(record)} "
                                                  "(a separator inside an unquoted value?)", record))
                if len(rows) + len(malformed) >= chunk_rows:
                    yield RowChunk(to_frame(rows), lines, malformed)
                    rows, lines, malformed = [], [], []
            if rows or malformed:
                yield RowChunk(to_frame(rows), lines, malformed)
        except csv.Error as exc:
            raise ImportFileError(f"{path.name}: line {reader.line_num + 1} cannot be read as CSV ({exc}); "
                                  "check the quoting around that line. Rows before it are stored; "
                                  "re-run the import after fixing the file to complete it.",
                                  nothing_written=False) from exc
