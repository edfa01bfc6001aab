"""Reading CSV files: pyarrow's fast way gives exactly the frame pandas gives, or steps aside."""

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic_analysis.errors import SourceFileError
from clinic_analysis.ingest import readers
from clinic_analysis.ingest.readers import read_table


def pandas_frame(path, encoding, sep):
    """What the loader read before pyarrow: pandas' C parser, every cell as text."""
    return pd.read_csv(
        path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False, na_values=[""]
    )


def test_a_plain_export_is_read_by_pyarrow_cell_for_cell(tmp_path):
    f = tmp_path / "visits.csv"
    f.write_bytes(
        "\ufeffКод;Дата;Сума\nP1;01.02.2024 10:00;1 830,00\nP2;;0123\n;02.02.2024;nan\n".encode()
    )
    fast = readers._read_csv_arrow(f, "utf-8-sig", ";", f.read_bytes())
    assert fast is not None
    assert fast["Код"].tolist()[:2] == ["P1", "P2"] and pd.isna(fast["Код"].iloc[2])
    assert fast["Сума"].tolist() == ["1 830,00", "0123", "nan"]  # text stays text
    pd.testing.assert_frame_equal(fast, pandas_frame(f, "utf-8-sig", ";"))


def test_a_windows_1251_export_is_read_by_pyarrow_as_pandas_reads_it(tmp_path):
    f = tmp_path / "p.csv"
    f.write_bytes("Код;ПІБ\r\n1;Дорошенко Сергій\r\n2;Іваненко Ольга\r\n".encode("cp1251"))
    fast = readers._read_csv_arrow(f, "cp1251", ";", f.read_bytes())
    assert fast["ПІБ"].tolist() == ["Дорошенко Сергій", "Іваненко Ольга"]
    pd.testing.assert_frame_equal(fast, pandas_frame(f, "cp1251", ";"))


@pytest.mark.parametrize(
    "text",
    [
        'id;name\n1;"Smith; John"\n',  # quotes: pandas' quoting rules
        "id;name\n1;a\r2;b\r",  # old Mac line ends
        "id;name\n1\n2;b\n",  # a short row: pandas pads it
        "id;id\n1;2\n",  # pandas renames a repeated header
        "id;\n1;2\n",  # pandas names an empty header
        "id\n1\n \n2\n",  # one column: pandas skips the line of spaces
    ],
)
def test_files_where_the_parsers_differ_are_left_to_pandas(tmp_path, text):
    f = tmp_path / "x.csv"
    f.write_bytes(text.encode())
    assert readers._read_csv_arrow(f, "utf-8", ";", f.read_bytes()) is None
    pd.testing.assert_frame_equal(read_table(f, delimiter=";"), pandas_frame(f, "utf-8", ";"))


def test_a_row_with_too_many_fields_keeps_pandas_error(tmp_path):
    f = tmp_path / "x.csv"
    f.write_bytes(b"id;name\n1;a\n2;b;c\n")
    with pytest.raises(SourceFileError, match="do not split into the same columns"):
        read_table(f, delimiter=";")


CELLS = ["", "", "a", "б", "1", " ", "x y", "'", "\t", ",", ".", "NA", "null", "nan", "N/A"]
CELLS += ["#", "-", "\\", "\u00a0", "TRUE", "1e5", "0123", "1 830,00", "01.02.2023 10:00"]


@st.composite
def plain_csv(draw):
    sep = draw(st.sampled_from([";", ",", "\t", "|"]))
    width = draw(st.integers(1, 4))
    names = [
        draw(st.sampled_from(["a", "Код", " x", "NA", "#h", "nan"])) + str(i) for i in range(width)
    ]
    cells = st.sampled_from([c for c in CELLS if sep not in c])
    rows = draw(
        st.lists(
            st.lists(cells, min_size=width, max_size=width).map(sep.join),
            max_size=6,
        )
    )
    ends = st.sampled_from(["\n", "\r\n", "\n\n"])
    text = sep.join(names) + draw(ends) + "".join(r + draw(ends) for r in rows)
    return sep, width if rows else 0, text.rstrip("\r\n") if draw(st.booleans()) else text


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60, deadline=None
)
@given(plain_csv(), st.sampled_from(["utf-8", "utf-8-sig", "cp1251"]))
def test_pyarrow_reads_any_plain_export_as_pandas_does(tmp_path, export, encoding):
    sep, width, text = export
    f = tmp_path / "x.csv"
    f.write_bytes(text.encode(encoding))
    fast = readers._read_csv_arrow(f, encoding, sep, f.read_bytes())
    try:
        expected = pandas_frame(f, encoding, sep)
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        assert fast is None
        return
    assert fast is not None or width <= 1  # one column or only a header: left to pandas
    if fast is not None:
        pd.testing.assert_frame_equal(fast, expected)
