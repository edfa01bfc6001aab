"""How the example generators write what an MIS exports: phone numbers and amounts as front
desks and exports type them, the demo's CSVs and plans workbook, and xlsx files whose bytes do
not depend on when they were written (so the same seed gives the same files)."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

FIXED_TIME = dt.datetime(2026, 1, 1)  # document properties and zip member times of plans.xlsx


def phone_text(local: str, form: int) -> str:
    """A Ukrainian number ``0XXYYYYYYY`` written in one of five ways (``form`` modulo 5):
    ``050 123 45 67``, ``+38 (050) 123-45-67``, ``80501234567``, ``0501234567``,
    ``+380501234567``."""
    forms = (
        f"{local[:3]} {local[3:6]} {local[6:8]} {local[8:]}",
        f"+38 ({local[:3]}) {local[3:6]}-{local[6:8]}-{local[8:]}",
        "8" + local,
        local,
        "+38" + local,
    )
    return forms[form % len(forms)]


def money_text(x: float | None) -> str:
    """UAH as an MIS prints them: ``1 234,50``; empty for missing."""
    return "" if (x is None or x != x) else f"{x:,.2f}".replace(",", " ").replace(".", ",")


def money_value(text: str) -> float:
    """The amount of a :func:`money_text` (``1 234,50`` -> 1234.5); NaN for an empty one."""
    return float(text.replace(" ", "").replace(",", ".")) if text else float("nan")


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """UTF-8 with BOM, ``;``-separated, ``\\n`` line ends: as the MIS exports."""
    df.to_csv(path, sep=";", index=False, encoding="utf-8-sig", lineterminator="\n")


def write_xlsx(df: pd.DataFrame, path: Path, sheet: str) -> None:
    """The demo's plans workbook: one sheet with real Excel dates (column ``Дата плану``) and
    numbers, fixed document properties and zip member times, so that the same data give the
    same bytes."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):
        ws.append([
            x.to_pydatetime() if isinstance(x, pd.Timestamp)
            else (int(x) if isinstance(x, float | np.floating) and float(x).is_integer() else x)
            for x in row
        ])  # fmt: skip
    date_col = list(df.columns).index("Дата плану") + 1
    for (cell,) in ws.iter_rows(min_row=2, min_col=date_col, max_col=date_col):
        cell.number_format = "DD.MM.YYYY"
    for letter, width in zip("ABCDEFGH", (11, 13, 12, 12, 12, 15, 26, 30), strict=True):
        ws.column_dimensions[letter].width = width
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    wb.properties.creator = "clinic-audit demo"
    wb.properties.lastModifiedBy = "clinic-audit demo"
    wb.save(path)
    fix_zip_times(path)


def fix_zip_times(path: Path) -> None:
    """Rewrite the xlsx zip with fixed member times and document dates (openpyxl stamps
    the save time into ``docProps/core.xml``), so the bytes are reproducible."""
    with zipfile.ZipFile(path) as zin:
        items = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in items:
            if name == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", stamp, data)
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zout.writestr(info, data)
