"""Exports of any auditors' table: CSV and Excel, streamed, in constant memory.

CSV is written line by line as the database cursor yields rows. Excel uses openpyxl's write-only
workbook (rows go to a temporary file as they are appended, never held as cells), then the finished
file is streamed in chunks. Large exports run as a job (jobs.py) with the same writers.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from onestop.core.clock import to_local

CHUNK = 64 * 1024
MIME = {"csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def cell(value: Any) -> Any:
    """A value as a spreadsheet holds it: local time without zone, numbers as numbers, lists joined."""
    if isinstance(value, datetime):
        local = to_local(value)
        return local.replace(tzinfo=None, microsecond=0) if local else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return " → ".join(str(v) for v in value)
    if isinstance(value, dict):
        return str(value)
    return value


def _csv_text(value: Any) -> Any:
    value = cell(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not _numeric(value):
        return "'" + value  # no formula injection when the file is opened in a spreadsheet
    return value


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_stream(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # Excel reads UTF-8 (Chinese names) only with the BOM
    writer.writerow(columns)
    for n, row in enumerate(rows, 1):
        writer.writerow([_csv_text(v) for v in row])
        if n % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def write_xlsx(path: str, title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
               progress: Callable[[int], None] | None = None, every: int = 5000) -> int:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(list(columns))
    n = 0
    for n, row in enumerate(rows, 1):
        sheet.append([cell(v) for v in row])
        if progress is not None and n % every == 0:
            progress(n)
    workbook.save(path)
    return n


def xlsx_stream(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        write_xlsx(path, title, columns, rows)
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)
