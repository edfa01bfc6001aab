"""The models on data with known truth and against published figures."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln, gammaln

from clinic_analysis.examples.demo import simulate_bgnbd
from clinic_analysis.models import clusters as K
from clinic_analysis.models import lifetimes_adapter as L
from clinic_analysis.models.clv import BGNBD, GammaGamma, NotFittedError, clv, compress, rfm


def bgnbd_loglik(params, x, t_x, T, w=None):
    """Reference BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6), written from the
    paper independently of lifetimes."""
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, float) for v in (x, t_x, T))
    w = np.ones_like(x) if w is None else np.asarray(w, float)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(
        x > 0,
        np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    ll = a1 + a2 + np.logaddexp(a3, np.where(x > 0, a4, -np.inf))
    return float((w * ll).sum())


def test_cdnow_published_parameters_are_reproduced():
    d = L.cdnow_summary()
    m = L.fit_bgnbd(d["frequency"], d["recency"], d["T"])
    p = L.bgnbd_params(m)
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for k, v in published.items():
        assert p[k] == pytest.approx(v, abs=0.002), k


def test_reference_loglik_agrees_with_lifetimes_at_its_optimum():
    d = L.cdnow_summary()
    m = L.fit_bgnbd(d["frequency"], d["recency"], d["T"])
    p = L.bgnbd_params(m)
    ours = bgnbd_loglik([p["r"], p["alpha"], p["a"], p["b"]], d["frequency"], d["recency"], d["T"])
    assert ours == pytest.approx(-9582.429, abs=0.05)  # the paper's maximum log-likelihood
    # and it is a maximum: any nudge of a parameter lowers it
    for i in range(4):
        nudged = [p["r"], p["alpha"], p["a"], p["b"]]
        nudged[i] *= 1.02
        assert bgnbd_loglik(nudged, d["frequency"], d["recency"], d["T"]) < ours


def test_importing_the_adapter_leaves_warning_filters_alone():
    import subprocess
    import sys

    code = (
        "import warnings, numpy, pandas, scipy.optimize, autograd\n"
        "before = list(warnings.filters)\n"
        "import clinic_analysis.models.lifetimes_adapter\n"
        "assert list(warnings.filters) == before\n"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_simulated_bgnbd_parameters_are_recovered():
    rng = np.random.default_rng(11)
    truth = {"r": 0.9, "alpha": 180.0, "a": 0.8, "b": 3.0}
    sim = simulate_bgnbd(20_000, *truth.values(), rng.uniform(200, 1800, 20_000).round(), rng)
    s = sim.rename(columns={"T": "T"})[["frequency", "recency", "T"]].copy()
    s["recency"] = s["recency"].round()
    model = BGNBD().fit(s)
    assert model.converged_
    for k, v in truth.items():
        assert model.params_[k] == pytest.approx(v, rel=0.15), k
    # compressed rows with weights give the same fit as one row per patient
    assert model.rows_ < len(s)
    p_alive = model.p_alive(s)
    assert ((p_alive >= 0) & (p_alive <= 1)).all()
    # alive customers look more alive to the model than dead ones
    assert p_alive[sim["alive"].to_numpy()].mean() > p_alive[~sim["alive"].to_numpy()].mean()


def test_gamma_gamma_recovers_spend_parameters():
    rng = np.random.default_rng(5)
    n, p, q, v = 8000, 3.0, 4.0, 2400.0
    nu = rng.gamma(q, 1 / v, n)
    freq = rng.integers(1, 8, n)
    spend = np.array([rng.gamma(p, 1 / nu[i], freq[i]).mean() for i in range(n)])
    s = pd.DataFrame({"frequency": freq, "monetary": spend, "recency": 1.0, "T": 2.0})
    gg = GammaGamma().fit(s)
    assert gg.params_["p"] == pytest.approx(p, rel=0.15)
    assert gg.params_["q"] == pytest.approx(q, rel=0.2)
    assert abs(gg.corr_) < 0.1


def test_unfitted_models_refuse_with_one_sentence():
    s = pd.DataFrame({"frequency": [1], "recency": [1.0], "T": [2.0], "monetary": [1.0]})
    with pytest.raises(NotFittedError, match="Please call the .fit method first"):
        BGNBD().p_alive(s)
    with pytest.raises(NotFittedError):
        GammaGamma().expected_spend(s)


def test_rfm_counts_same_day_visits_once_and_uses_repeat_spend():
    days = pd.DataFrame(
        {
            "patient_id": ["a", "a", "a", "b"],
            "day": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01", "2025-06-01"]),
            "amount": [100.0, 200.0, 400.0, 50.0],
        }
    )
    s = rfm(days, pd.Timestamp("2025-12-31"))
    assert s.loc["a", "frequency"] == 2 and s.loc["a", "recency"] == 59
    assert s.loc["a", "T"] == 364 and s.loc["a", "monetary"] == 300
    assert s.loc["b", "frequency"] == 0 and s.loc["b", "monetary"] == 0


def test_clv_is_finite_and_never_negative():
    rng = np.random.default_rng(2)
    sim = simulate_bgnbd(3000, 0.9, 180.0, 0.8, 3.0, 900.0, rng)
    s = sim[["frequency", "recency", "T"]].assign(recency=lambda d: d["recency"].round())
    m = BGNBD().fit(s)
    v = clv(m, s, np.full(len(s), 1000.0))
    assert np.isfinite(v).all() and (v >= 0).all()
    assert v[s["frequency"].to_numpy() >= 3].mean() > v[s["frequency"].to_numpy() == 0].mean()


def test_compress_keeps_every_patient_in_the_weights():
    s = pd.DataFrame({"frequency": [0, 0, 1], "recency": [0.0, 0.0, 5.0], "T": [9.0, 9.0, 9.0]})
    c = compress(s)
    assert c["weight"].sum() == 3 and len(c) == 2


def test_clustering_is_deterministic_and_named():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "recency_days": np.concatenate([rng.integers(1, 60, 300), rng.integers(400, 900, 300)]),
            "frequency": np.concatenate([rng.integers(5, 12, 300), rng.integers(1, 2, 300)]),
            "monetary": np.concatenate([rng.uniform(2e4, 5e4, 300), rng.uniform(0, 2e3, 300)]),
            "tenure_days": np.concatenate(
                [rng.integers(700, 1500, 300), rng.integers(400, 900, 300)]
            ),
        }
    ).astype(float)
    a = K.cluster(X, (2, 4))
    b = K.cluster(X, (2, 4))
    assert a.k == b.k and (a.labels == b.labels).all()
    assert a.k == 2 and a.silhouette > 0.5
    assert set(a.labels) == {"loyal_high_value", "lost_low_value"}


def test_a_clinic_without_repeat_patients_reports_instead_of_crashing(tmp_path):
    from clinic_analysis.audit import compute_audit
    from tests.ingest.test_load import STATUS, VISIT_COLS, make_params

    text = "Код;Дата;Сума;Статус\n" + "".join(
        f"P{i};{1 + i % 28:02d}.0{1 + i % 9}.2024;100;Виконано\n" for i in range(40)
    )
    params = make_params(
        tmp_path,
        {"v.csv": ("visits", text, {"columns": VISIT_COLS, "values": STATUS})},
        history={"min_months": 1},  # nine months of visits: past the history gate
    )
    audit = compute_audit(params)
    m = audit.metrics["models"]
    # nobody came twice: said plainly; no model, no forecast
    assert m["status"] == "too_few_repeaters" and "too_few_repeaters" in m["notes"]
    assert m["chosen"] is None and "p_alive" not in audit.patients
    assert audit.metrics["forecast"] == {"status": "too_few_repeaters"}


def test_too_few_repeat_patients_give_no_model():
    from clinic_analysis.models.selection import fit_one

    days = pd.DataFrame(
        {
            "patient_id": [f"p{i}" for i in range(40)] + ["p0"],
            "day": pd.to_datetime(["2023-01-05"] * 40 + ["2023-06-01"]),
            "amount": 100.0,
        }
    )
    fits = fit_one("mbgnbd", days, pd.Timestamp("2024-12-31"), days["patient_id"], 0.3)
    assert fits.status == "too_few_repeaters" and not fits.ok


def test_demo_models_recover_the_generators_truth(tmp_path):
    from clinic_analysis.audit import compute_audit
    from clinic_analysis.examples.demo import DemoSpec, generate_demo
    from clinic_analysis.params import load_params
    from tests.conftest import DEMO_PARAMS, write_params_copy

    generate_demo(tmp_path / "data", DemoSpec(n_patients=3000))
    audit = compute_audit(load_params(write_params_copy(DEMO_PARAMS, tmp_path)))
    m = audit.metrics["models"]
    assert m["chosen"] == "mbgnbd"  # the generator is an MBG/NBD process
    fit = m["fit"]["params"]  # the chosen model refitted on the whole history
    assert fit["r"] == pytest.approx(0.9, rel=0.35) and fit["alpha"] == pytest.approx(180, rel=0.35)
    # a and b move together on 3,000 patients; the share dropping out after a visit does not
    assert fit["a"] / (fit["a"] + fit["b"]) == pytest.approx(0.8 / 3.8, rel=0.25)
    assert m["chosen"] != "bgnbd"  # a third of first-timers never return
    assert m["chosen"] in m["selection"] and m["selection"][m["chosen"]]["chosen"]
    assert m["gamma_gamma"]["status"] == "ok"
    h = m["holdout"]
    assert h["predicted_total"] == pytest.approx(h["actual_total"], rel=0.25)
    fc = audit.metrics["forecast"]
    assert fc["backtest"]["mape"] < 0.25
    for row in fc["monthly"]:
        assert 0 <= row["no_action_low"] <= row["no_action"] <= row["no_action_high"]
        assert row["with_calls"] == pytest.approx(row["no_action"] + row["reactivation"], abs=1)
    people = audit.patients[audit.patients["in_base"]]
    assert (people["clv_12m"] >= 0).all() and people["p_alive"].between(0, 1).all()


def test_only_keeps_the_listed_patients_in_their_order():
    from clinic_analysis.models.clv import only

    s = pd.DataFrame({"frequency": [1, 2, 3]}, index=pd.Index(["c", "a", "b"], dtype="str"))
    kept = only(s, ["b", "c", "c", "zzz"])  # repeated and unknown ids are harmless
    assert list(kept.index) == ["c", "b"] and list(kept["frequency"]) == [1, 3]


def test_predictions_on_distinct_rows_reach_every_patient():
    from clinic_analysis.models.clv import PurchaseModel

    d = L.cdnow_summary()
    s = pd.concat([d, d.iloc[:5]], ignore_index=True)  # five patients twice
    m = PurchaseModel("mbgnbd").fit(s)
    one_by_one = [
        L.p_alive(m.model_, float(f), float(r), float(t))[0]
        for f, r, t in s[["frequency", "recency", "T"]].itertuples(index=False)
    ]
    assert np.allclose(m.p_alive(s), one_by_one, rtol=1e-12)
    both = m.expected_visits_over(s, [10.0, 20.0])
    assert np.array_equal(both[1], m.expected_visits(s, 20.0))
    assert (both[1] >= both[0]).all()


def test_new_patients_revenue_adds_each_months_arrivals_along_the_curve():
    from clinic_analysis.models.forecast import _new_layer

    curve = np.array([100.0, 50.0, 20.0])  # a new patient brings 100, then 50, then 20
    # 10 arrive in month 0, none in month 1, 5 in month 2
    assert list(_new_layer(np.array([10.0, 0.0, 5.0]), curve)) == [1000.0, 500.0, 700.0]
    two = _new_layer(np.array([[10.0, 0.0, 5.0], [0.0, 1.0, 0.0]]), curve)
    assert two.tolist() == [[1000.0, 500.0, 700.0], [0.0, 100.0, 50.0]]
