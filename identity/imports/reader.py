"""Reading an uploaded table one row at a time, never the whole file in memory.

CSV: the encoding is UTF-8 (with or without a byte-order mark) or, when the first 64 KiB are not
UTF-8, Latin-1; the delimiter and quoting are sniffed from the same sample. A byte that is not
valid in the chosen encoding makes its row rejected (not the file). XLSX: the first sheet, read
with openpyxl's streaming reader. Headers must be present, named and unique.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

SAMPLE_BYTES = 64 * 1024
# One cell may hold at most this many characters (a CSV field larger than this is a broken file).
MAX_CELL = 128 * 1024
csv.field_size_limit(MAX_CELL)
_BAD_BYTES = re.compile("[\udc80-\udcff]")


class FileProblem(Exception):
    """The file as a whole cannot be imported (empty, no header, duplicate headers ...)."""


@dataclass
class TableInfo:
    headers: list[str]
    format: str  # "csv" or "xlsx"
    encoding: str = ""
    delimiter: str = ""


def _sniff_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)  # a multi-byte character cut at the end is fine
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def _sniff_dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    lines = text.splitlines()
    sample = "\n".join(lines[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def check_headers(raw: list) -> list[str]:
    headers = [("" if h is None else str(h)).strip().lstrip("\ufeff") for h in raw]
    while headers and headers[-1] == "":
        headers.pop()  # trailing empty columns (spreadsheets) are not columns
    if not headers:
        raise FileProblem("The file is empty: the first line must name the columns.")
    problems = []
    seen: dict[str, int] = {}
    for number, name in enumerate(headers, start=1):
        if not name:
            problems.append(f"column {number} has no name")
        elif name.lower() in seen:
            problems.append(f"column {number} '{name}' repeats column {seen[name.lower()]}")
        else:
            seen[name.lower()] = number
    if problems:
        raise FileProblem("Fix the header line: " + "; ".join(problems) + ".")
    return headers


def open_table(path: Path) -> tuple[TableInfo, Iterator[list[str]]]:
    """The table's header line and an iterator over its data rows (lists of strings)."""
    path = Path(path)
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(path)
    return _open_csv(path)


def _open_csv(path: Path):
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if not sample.strip(b"\r\n\t \xef\xbb\xbf"):
        raise FileProblem("The file is empty: the first line must name the columns.")
    encoding = _sniff_encoding(sample)
    dialect = _sniff_dialect(sample.decode(encoding, errors="replace"))
    handle = path.open("r", encoding=encoding, errors="surrogateescape", newline="")
    reader = csv.reader(handle, dialect)
    try:
        raw_headers = next(reader)
    except StopIteration:
        handle.close()
        raise FileProblem("The file is empty: the first line must name the columns.") from None
    except csv.Error as exc:
        handle.close()
        raise FileProblem(f"The header line cannot be read: {exc}.") from None
    if any(_BAD_BYTES.search(h) for h in raw_headers):
        handle.close()
        raise FileProblem(f"The header line is not valid {encoding}.")
    try:
        headers = check_headers(raw_headers)
    except FileProblem:
        handle.close()
        raise
    info = TableInfo(headers, "csv", encoding, getattr(dialect, "delimiter", ","))

    def rows():
        with handle:
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:  # e.g. a field larger than MAX_CELL
                    yield _BrokenRow(str(exc))
                    continue
                if row:
                    yield row

    return info, rows()


class _BrokenRow(list):
    """A row the CSV reader could not split; rejected with ``reason``."""

    def __init__(self, reason: str):
        super().__init__()
        self.reason = reason


def _xlsx_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _open_xlsx(path: Path):
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - openpyxl is in requirements.txt
        raise FileProblem("XLSX files need the openpyxl package; save the sheet as CSV.") from None
    try:
        book = openpyxl.load_workbook(path.open("rb"), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is a bad file
        raise FileProblem(f"The file looks like XLSX but cannot be read ({type(exc).__name__}).") from None
    sheet = book.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    try:
        headers = check_headers(list(next(values)))
    except StopIteration:
        book.close()
        raise FileProblem("The file is empty: the first line must name the columns.") from None
    except FileProblem:
        book.close()
        raise

    def rows():
        try:
            for raw in values:
                row = [_xlsx_cell(v) for v in raw]
                while len(row) > len(headers) and row[-1] == "":
                    row.pop()
                if any(row):
                    yield row
        finally:
            book.close()

    return TableInfo(headers, "xlsx"), rows()


def row_problem(row: list[str], width: int) -> str:
    """Why a data row cannot be read at all ("" when it can)."""
    if isinstance(row, _BrokenRow):
        return f"The line cannot be read as CSV: {row.reason}."
    if len(row) != width:
        return f"The row has {len(row)} cells; the header has {width}."
    for cell in row:
        if _BAD_BYTES.search(cell):
            return "The row has bytes that are not valid text in the file's encoding."
        if "\x00" in cell:
            return "The row contains a NUL character."
    return ""


def count_rows(path: Path) -> int:
    """An estimate of the data rows (line breaks) for the progress bar, read in blocks."""
    path = Path(path)
    with path.open("rb") as handle:
        if handle.read(4).startswith(b"PK\x03\x04"):
            try:
                import openpyxl

                book = openpyxl.load_workbook(path.open("rb"), read_only=True)
                total = max((book.worksheets[0].max_row or 1) - 1, 0)
                book.close()
                return total
            except Exception:  # noqa: BLE001
                return 0
        handle.seek(0)
        lines = 0
        last = b""
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block
        if last and not last.endswith(b"\n"):
            lines += 1
    return max(lines - 1, 0)
