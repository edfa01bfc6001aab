"""Fits on exact rows: CDNOW through the pipeline against the paper, and the measured cost
of the coarse grid used only for very large bases."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clinic_analysis.models import lifetimes_adapter as L
from clinic_analysis.models.clv import GRID_SHARE, GammaGamma, PurchaseModel, coarsen, compress
from tests.ingest.test_load import STATUS, VISIT_COLS, make_params
from tests.models.model_worlds import simulate

FHL_BGNBD = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}  # alpha: weeks -> days
FHL_GG = {"p": 6.25, "q": 3.74, "v": 15.44}  # Fader, Hardie & Lee 2005, "RFM and CLV"


def _cdnow_visits_csv(folder: Path) -> Path:
    """A minimal export of lifetimes' CDNOW_sample as a clinic's visits file."""
    raw = pd.read_csv(
        Path(L.lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master", "id", "date", "cds", "amount"],
        dtype={"id": str, "date": str},
    )
    date = pd.to_datetime(raw["date"], format="%Y%m%d").dt.strftime("%d.%m.%Y")
    amount = raw["amount"].map(lambda x: f"{x:.2f}".replace(".", ","))
    lines = [f"C{i};{d};{a};Виконано" for i, d, a in zip(raw["id"], date, amount, strict=True)]
    path = folder / "cdnow.csv"
    path.write_text("Код;Дата;Сума;Статус\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_cdnow_through_the_pipeline_matches_the_paper(tmp_path):
    from clinic_analysis.ingest.load import load_clinic
    from clinic_analysis.measures import summary
    from clinic_analysis.models.selection import fit_models

    text = _cdnow_visits_csv(tmp_path).read_text(encoding="utf-8")
    params = make_params(
        tmp_path,
        {"v.csv": ("visits", text, {"columns": VISIT_COLS, "values": STATUS, "decimal": ","})},
        clinic={"as_of": "1997-09-30"},
        history={"min_months": 6},
    )
    data = load_clinic(params)
    days = summary.visit_days(data.visits)
    fits = fit_models(params, days, days["patient_id"].unique(), data.as_of)
    assert len(fits.summary) == 2357
    bg = PurchaseModel("bgnbd").fit(fits.summary)  # the pipeline's exact summary
    assert bg.grid_days_ == 1.0
    for k, v in FHL_BGNBD.items():
        assert bg.params_[k] == pytest.approx(v, rel=0.01), k
    gg = GammaGamma().fit(fits.summary).params_
    for k, v in FHL_GG.items():
        assert gg[k] == pytest.approx(v, rel=0.01), k
    assert fits.gamma_gamma["params"]["p"] == pytest.approx(FHL_GG["p"], rel=0.01)


def test_the_coarse_grid_moves_no_parameter_by_half_a_percent_on_cdnow_like_data():
    rng = np.random.default_rng(7)
    n = 30_000
    T = rng.integers(189, 274, n).astype(float)  # CDNOW: 27-39 weeks in the base
    sim = simulate("bgnbd", n, FHL_BGNBD, T, rng)
    exact = compress(sim[["frequency", "recency", "T"]])
    grid = coarsen(sim, T.max() * GRID_SHARE)
    assert len(grid) < len(exact) / 2  # the grid does save rows
    fit = {}
    for name, rows in (("exact", exact), ("grid", grid)):
        m = L.fit_purchases("bgnbd", rows["frequency"], rows["recency"], rows["T"], rows["weight"])
        fit[name] = L.model_params(m)
    for k in FHL_BGNBD:
        assert abs(fit["grid"][k] / fit["exact"][k] - 1) < 0.005, k


def test_a_small_base_is_fitted_on_exact_days():
    rng = np.random.default_rng(1)
    sim = simulate("bgnbd", 2000, FHL_BGNBD, rng.integers(189, 274, 2000).astype(float), rng)
    m = PurchaseModel("mbgnbd").fit(sim)
    assert m.grid_days_ == 1.0 and m.rows_ == len(compress(sim))
