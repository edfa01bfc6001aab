"""Reading source files: encoding detection, CSV delimiter sniffing, CSV / XLSX / Parquet
readers whose errors name the file, and the dictionary files (lookups) of ids."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from clinic_analysis.errors import ColumnError, SourceFileError
from clinic_analysis.ingest.values import as_text
from clinic_analysis.params import Source

ENCODINGS = ("utf-8-sig", "utf-8", "cp1251", "utf-16", "utf-16-le", "utf-16-be")


def detect_encoding(raw: bytes) -> str:
    """UTF-8 with BOM; UTF-16 (by its BOM, or without one by the NUL bytes of its ASCII
    characters); else UTF-8 if it decodes, else Windows-1251."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\0" in raw:  # text in UTF-8 or cp1251 holds no NUL bytes; UTF-16 without BOM does
        return "utf-16-le" if raw[1::2].count(0) >= raw[0::2].count(0) else "utf-16-be"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        # a multi-byte character cut at the end of a sample is still UTF-8
        if err.reason != "unexpected end of data":
            return "cp1251"
    return "utf-8"


def sniff_delimiter(sample: str) -> str:
    """The separator of a CSV sample: ``;``, ``,``, tab or ``|``.

    ``csv.Sniffer`` guesses first; another separator wins when it splits every line into the
    same, larger number of fields (the sniffer can take ``1;29.09.2025;1 970,00`` for
    comma-separated)."""
    lines = [ln for ln in sample.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines), delimiters=";,\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ";,\t|"}
        sniffed = max(counts, key=counts.get) if max(counts.values()) else ","
    if len(lines) > 2:
        lines = lines[:-1]  # the last line of a sample may be cut

    def fields(d: str) -> int:
        counts = {len(row) for row in csv.reader(lines, delimiter=d)}
        return counts.pop() if len(counts) == 1 else 0

    best = max(";,\t|", key=fields)
    return best if fields(best) > fields(sniffed) else sniffed


def read_raw(source: Source) -> pd.DataFrame:
    """Read one source file into a frame of raw values (strings for text files)."""
    return read_table(
        source.path,
        encoding=source.encoding,
        delimiter=source.delimiter,
        sheet=source.sheet,
        what=f"source '{source.system}' / {source.table}",
    )


def read_table(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    what: str = "",
) -> pd.DataFrame:
    """CSV (sniffed), XLSX (calamine) or Parquet, by extension; errors name the file."""
    path = Path(path)
    if not path.exists():
        raise SourceFileError(
            path,
            f"file not found ({what})" if what else "file not found",
            hint="check `path:` in params; relative paths start at the params file's folder",
        )
    if path.is_dir():
        raise SourceFileError.folder(path, what)
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            return _read_csv(path, encoding, delimiter)
        if suffix in (".xlsx", ".xlsm", ".xls"):
            # dtype=object: cells keep their own type, so text ids such as "00123" stay text
            return pd.read_excel(
                path, engine="calamine", sheet_name=sheet if sheet else 0, dtype=object
            )
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (SourceFileError, ColumnError):
        raise
    except ValueError as err:
        if sheet and "sheet" in str(err).lower():
            raise SourceFileError(path, f"no sheet '{sheet}' ({err})") from None
        raise SourceFileError(path, f"cannot be read: {err}") from None
    except Exception as err:  # noqa: BLE001 - any reader failure becomes one clear message
        raise SourceFileError(path, f"cannot be read as {suffix[1:]}: {err}") from None
    raise SourceFileError(path, f"unknown file type '{suffix}'", hint="use .csv, .xlsx or .parquet")


def _read_csv(path: Path, encoding: str | None, delimiter: str | None) -> pd.DataFrame:
    with path.open("rb") as fh:
        head = fh.read(256 * 1024)
    encoding = encoding or detect_encoding(head)
    if encoding == "utf-8" and head.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    sep = delimiter or sniff_delimiter(head.decode(encoding, errors="replace"))
    fast = _read_csv_arrow(path, encoding, sep, head)
    if fast is not None:
        return fast
    try:
        return pd.read_csv(
            path,
            sep=sep,
            encoding=encoding,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            on_bad_lines="error",
        )
    except UnicodeDecodeError as err:
        raise SourceFileError(
            path,
            f"not valid {encoding} text ({err.reason} at byte {err.start})",
            hint="set `encoding:` (utf-8, utf-8-sig, cp1251 or utf-16) for this source in params",
        ) from None
    except pd.errors.ParserError as err:
        raise SourceFileError(
            path,
            f"rows do not split into the same columns with separator {sep!r}: {err}",
            hint="set `delimiter:` for this source in params",
        ) from None
    except pd.errors.EmptyDataError:
        raise SourceFileError(path, "the file is empty") from None


PLAIN_ENCODINGS = {"utf-8": "utf8", "utf-8-sig": "utf8", "cp1251": "cp1251"}


def _read_csv_arrow(path: Path, encoding: str, sep: str, head: bytes) -> pd.DataFrame | None:
    """The frame :func:`pandas.read_csv` gives (text columns, empty cells missing), read by
    pyarrow's multi-threaded reader without a Python string per cell.

    Only plain files take this way: UTF-8 or Windows-1251, no quote character and no line
    ending in a lone carriage return (where the two parsers' habits differ). None whenever
    pyarrow cannot promise pandas' frame (those files, an error of any kind, a header that
    pandas would rename, a column not read as text): pandas then reads the file (and words
    its error)."""
    if encoding not in PLAIN_ENCODINGS or not _plain_bytes(path):
        return None
    try:
        first = head.decode(encoding, errors="replace").splitlines()[:1]
        names = first[0].split(sep) if first else []
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=PLAIN_ENCODINGS[encoding]),
            parse_options=pacsv.ParseOptions(delimiter=sep, quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                null_values=[""],
                strings_can_be_null=True,
            ),
        )
    except Exception:  # noqa: BLE001 - pandas reads the file again and says what is wrong
        return None
    names = table.column_names
    if (
        len(names) < 2  # pandas skips a line of spaces in a one-column file
        or len(set(names)) != len(names)
        or "" in names
        or any(t != pa.string() for t in table.schema.types)
    ):
        return None
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype(na_value=np.nan)}.get)


def _plain_bytes(path: Path, chunk: int = 1 << 24) -> bool:
    """No quote character and every carriage return followed by a line feed."""
    pending_cr = False
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            if b'"' in block or (pending_cr and not block.startswith(b"\n")):
                return False
            if b"\r" not in block:  # a Unix file: nothing to count
                pending_cr = False
                continue
            pending_cr = block.endswith(b"\r")
            if block.count(b"\r") - pending_cr != block.count(b"\r\n"):
                return False
    return not pending_cr


def apply_lookup(values: pd.Series, lookup) -> pd.Series:
    """Replace ids by the names a dictionary file gives them; unknown ids stay as they are."""
    table = read_table(
        lookup.path,
        encoding=lookup.encoding,
        delimiter=lookup.delimiter,
        sheet=lookup.sheet,
        what="lookup",
    )
    table.columns = [str(c).strip() for c in table.columns]
    for col in (lookup.key, lookup.value):
        if col not in table.columns:
            raise ColumnError(lookup.path, col, list(table.columns), role="lookup")
    names = dict(zip(as_text(table[lookup.key]), as_text(table[lookup.value]), strict=True))
    return values.map(names).fillna(values)
