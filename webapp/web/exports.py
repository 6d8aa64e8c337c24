"""Spreadsheet exports, CSV and XLSX, of the rows a list page shows, written so Excel opens them
right: the one place for the rules every export follows.

  order numbers  19 digits are more than Excel's 15 significant digits (6926000000000000001 would
                 become 6.926E+18, its last digits lost). CSV: written as ="6926000000000000001",
                 the well-known way to make Excel keep a value as text (it shows the digits only);
                 XLSX: a string cell with the text format "@".
  money          fen inside; yuan in the file. CSV: "12.50" (Excel reads a number); XLSX: a number
                 cell with the format 0.00, so sums and filters work.
  text a person typed (names, notes)
                 never starts a formula (OWASP "CSV injection": = + - @ tab CR). CSV: a leading
                 apostrophe; XLSX: a string cell (typed as text, never evaluated).
  times          shop-local (R17). CSV: "2026-11-23 10:00:00"; XLSX: a date cell.
  CSV            UTF-8 with a BOM (Excel on Windows reads Chinese right only with it), the header row
                 always (an empty export too), streamed in chunks; Content-Type text/csv; charset=utf-8.
  XLSX           openpyxl's write-only mode (rows go to a temporary file, not memory), built into a
                 spooled temporary file and streamed; at most one sheet's worth of rows.
  file names     what it is and the shop-local date and time: payouts-20261123-100000.csv.
"""
from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum

from flask import Response, stream_with_context

from ..domain import calendar, money

CSV_CHUNK_ROWS = 500
XLSX_MAX_ROWS = 1_048_576 - 2  # a sheet's rows, less the header and the "more rows" note
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ORDER_NO = re.compile(r"^[0-9A-Za-z]{1,64}$")
# Characters XML 1.0 cannot hold (openpyxl refuses them): control characters other than tab, LF, CR.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class Kind(Enum):
    TEXT = "text"  # typed by a person: guarded against formulas
    LABEL = "label"  # our own words (a status, a reason) in the reader's language
    ORDER_NO = "order_no"  # digits kept as text
    MONEY = "money"  # fen, written as yuan with 2 decimals (may be negative)
    TIME = "time"  # an aware instant, written in the shop's time zone
    NUMBER = "number"  # a whole number (an id)


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind
    width: float = 14


def local_stamp(now: datetime) -> str:
    """The shop-local date and time for a file name: 20261123-100000."""
    return calendar.local(now).strftime("%Y%m%d-%H%M%S")


def csv_safe(text: str | None) -> str:
    """Spreadsheet formula injection: a cell a person typed never starts as a formula."""
    text = text or ""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_cell(kind: Kind, value) -> str:
    if value is None or value == "":
        return ""
    if kind == Kind.MONEY:
        return money.fen_to_input(value)
    if kind == Kind.TIME:
        return calendar.local(value).strftime("%Y-%m-%d %H:%M:%S")
    if kind == Kind.ORDER_NO and _ORDER_NO.match(value):
        return f'="{value}"'
    if kind == Kind.NUMBER:
        return str(value)
    return csv_safe(str(value))  # text, and our labels too: a label falls back to a stored code or text


def csv_response(columns: Sequence[Column], rows: Iterable[Sequence], name: str) -> Response:
    """A streamed CSV download of `rows` (each a sequence of values in the columns' order)."""
    kinds = [c.kind for c in columns]

    def generate() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        buf.write("\ufeff")
        writer.writerow([csv_safe(c.title) for c in columns])
        for n, row in enumerate(rows, 1):
            writer.writerow([_csv_cell(kind, value) for kind, value in zip(kinds, row, strict=True)])
            if n % CSV_CHUNK_ROWS == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    # content_type, not mimetype: Werkzeug adds "; charset=utf-8" to a text/* mimetype on its own.
    return Response(stream_with_context(generate()), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def xlsx_response(columns: Sequence[Column], rows: Iterable[Sequence], name: str, sheet: str,
                  more_rows_note: Callable[[int], str]) -> Response:
    """An XLSX download of `rows`: built now (the rows are read inside the request), then streamed
    from a spooled temporary file. Beyond one sheet's rows, the last row says so
    (`more_rows_note(shown)`): the CSV has no limit."""
    # openpyxl ships no type hints (its stubs are a separate package this project does not install).
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
    from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=_sheet_title(sheet))
    for i, column in enumerate(columns, 1):
        ws.column_dimensions[get_column_letter(i)].width = column.width
    ws.freeze_panes = "A2"
    bold = Font(bold=True)

    def text_cell(value: str, **style) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=_XML_ILLEGAL.sub("", value))
        cell.data_type = "s"  # a string, whatever it starts with: never a formula
        for key, val in style.items():
            setattr(cell, key, val)
        return cell

    def cell(kind: Kind, value):
        if value is None or value == "":
            return None
        if kind == Kind.MONEY:
            c = WriteOnlyCell(ws, value=Decimal(value) / 100)
            c.number_format = "0.00"
            return c
        if kind == Kind.TIME:
            c = WriteOnlyCell(ws, value=calendar.local(value).replace(tzinfo=None))
            c.number_format = "yyyy-mm-dd hh:mm:ss"
            return c
        if kind == Kind.NUMBER:
            return value
        if kind == Kind.ORDER_NO:
            return text_cell(str(value), number_format="@")
        return text_cell(str(value))

    ws.append([text_cell(c.title, font=bold, alignment=Alignment(vertical="center")) for c in columns])
    kinds = [c.kind for c in columns]
    shown = 0
    for row in rows:
        if shown == XLSX_MAX_ROWS:
            ws.append([text_cell(more_rows_note(shown))])
            break
        ws.append([cell(kind, value) for kind, value in zip(kinds, row, strict=True)])
        shown += 1

    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    wb.save(out)
    size = out.tell()
    out.seek(0)

    def stream() -> Iterator[bytes]:
        try:
            while chunk := out.read(64 * 1024):
                yield chunk
        finally:
            out.close()

    response = Response(stream(), mimetype=XLSX_MIMETYPE,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    response.content_length = size
    response.call_on_close(out.close)
    return response


def _sheet_title(title: str) -> str:
    """Excel's rules for a sheet name: at most 31 characters, none of []:*?/\\ ."""
    return re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Sheet1"
