"""Property tests: random rows, encodings and formats never crash the loader with a
traceback and never lose a row from the ledger."""

import csv
import io

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic_analysis.errors import ClinicAuditError
from clinic_analysis.ingest.load import load_clinic
from clinic_analysis.params import Params

CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "31.12.2024",
            "01.02.2024 10:30",
            "2024-03-05",
            "31.02.2024",
            "12.31.2024",
            "45658",
            "1 234,50",
            "1234.50",
            "1.234",
            "1,234.50",
            "inf",
            "-inf",
            "nan",
            "01.01.1900",
            "2099-01-01",
            "-300",
            "0",
            "abc",
            "P1",
            "P2",
            "2.98725E+13",
            "Виконано",
            "Не з'явився",
            "Повернення",
            "Запис",
            "Іваненко Мар'яна",
            "067 123 45 67",
            "+38 (067) 123-45-67",
            "Так",
            "Ні",
            "a;b",
            'say "hi"',
            "\u00a0",
        ]
    ),
    st.text(alphabet="абвгґдеєжзиіїйклмнопрстуфхцчшщьюяАБВ0123456789 .,-:'", max_size=12),
)
STATUS = {
    "Виконано": "completed",
    "Не з'явився": "no_show",
    "Повернення": "refund",
    "Запис": "booked",
}


@st.composite
def exports(draw):
    n = draw(st.integers(min_value=0, max_value=25))
    rows = []
    for _ in range(n):
        rows.append(
            [draw(CELLS), draw(CELLS), draw(CELLS), draw(st.sampled_from(list(STATUS) + [""]))]
        )
    sep = draw(st.sampled_from([";", ",", "\t"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1251"]))
    decimal = draw(st.sampled_from([",", ".", None]))
    declare = draw(st.booleans())
    return rows, sep, encoding, decimal, declare


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(exports())
def test_random_exports_never_crash_and_never_lose_a_row(tmp_path, export):
    rows, sep, encoding, decimal, declare = export
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\n")
    writer.writerow(["Код", "Дата", "Сума", "Статус"])
    writer.writerows(rows)
    path = tmp_path / "visits.csv"
    path.write_bytes(buf.getvalue().encode(encoding, errors="replace"))
    source = {
        "system": "mis",
        "table": "visits",
        "path": path,
        "columns": {"patient_id": "Код", "date": "Дата", "amount": "Сума", "status": "Статус"},
        "values": {"status": STATUS},
    }
    if declare:
        source.update(encoding=encoding, delimiter=sep)
    if decimal:
        source["decimal"] = decimal
    params = Params.model_validate({"clinic": {"name": "t", "slug": "t"}, "sources": [source]})
    try:
        data = load_clinic(params)
    except ClinicAuditError:
        return  # a clear, actionable error is an allowed outcome
    (entry,) = data.ledger
    assert entry.rows_in == len(rows)
    assert entry.rows_in == entry.rows_kept + sum(entry.dropped.values())
    assert len(data.visits) == entry.rows_kept
    assert len(data.rejected) == sum(entry.dropped.values())
    assert pd.api.types.is_datetime64_any_dtype(data.visits["date"])
    assert not data.visits["amount"].isin([np.inf, -np.inf]).any()
