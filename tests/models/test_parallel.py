"""The model stage's child process and early threads give what the plain calls give."""

import os
import threading
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from clinic_analysis.models import forecast as F
from clinic_analysis.models.parallel import MAX_ROWS, ahead, in_child, workers
from tests.models.model_worlds import clinic

AS_OF = pd.Timestamp("2026-10-31")
MBG = {"r": 0.9, "alpha": 120.0, "a": 1.2, "b": 3.0}


def _pids(n):
    for i in range(n):
        yield i, os.getpid()


def test_in_child_gives_the_items_in_order_from_another_process():
    got = list(in_child(_pids, 3, rows=10))
    assert [i for i, _ in got] == [0, 1, 2]
    assert all((pid != os.getpid()) == (workers() > 1) for _, pid in got)


def _fails_second():
    yield 1
    raise ValueError("the second item failed")


def test_in_child_raises_the_error_where_the_items_stopped():
    items = in_child(_fails_second, rows=10)
    assert next(items) == 1
    with pytest.raises(ValueError, match="the second item failed"):
        next(items)
    with pytest.raises(StopIteration):  # and nothing after it (no wait for a dead child)
        next(items)


def _dies_in_a_child(parent: int):
    yield "a"
    if os.getpid() != parent:
        os._exit(1)  # killed without a word (as by the out-of-memory killer)
    yield "b"


def test_in_child_computes_here_what_a_killed_child_did_not_send():
    assert list(in_child(_dies_in_a_child, os.getpid(), rows=10)) == ["a", "b"]


def test_in_child_runs_lazily_here_above_the_row_limit():
    calls = []

    def gen():
        calls.append(os.getpid())
        yield len(calls)

    items = in_child(gen, rows=MAX_ROWS + 1)
    assert calls == []  # nothing computed before it is asked for
    assert next(items) == 1 and calls == [os.getpid()]


def test_ahead_starts_at_once_in_a_thread_and_runs_late_here_above_the_row_limit():
    here = threading.get_ident()
    assert (ahead(threading.get_ident, rows=10)() != here) == (workers() > 1)
    with pytest.raises(ZeroDivisionError):
        ahead(lambda: 1 / 0, rows=10)()
    calls = []
    late = ahead(lambda: calls.append(threading.get_ident()) or len(calls), rows=MAX_ROWS + 1)
    assert calls == []
    assert late() == 1 and calls == [here]


def _params():
    return SimpleNamespace(
        models=SimpleNamespace(forecast_months=12, max_spend_correlation=0.3, holdout_days=180),
        history=SimpleNamespace(min_months=12),
    )


@pytest.mark.parametrize("forked", [True, False], ids=["child", "here"])
def test_model_work_gives_the_plain_calls_figures_to_the_last_bit(forked, monkeypatch):
    """ModelWork (fits, forecast with its reactivation layer, backtest of three cut-offs,
    two of them in the child; or all here, one at a time, as at a million patients)
    against fit_models, forecast and backtest called in turn."""
    from clinic_analysis.models import parallel
    from clinic_analysis.models import selection as S

    days = clinic("mbgnbd", MBG, 3, 8, AS_OF, np.random.default_rng(5))
    ids = days["patient_id"].unique()
    react = pd.Series([500.0, np.nan, 1200.0])
    plain = S.fit_models(_params(), days, ids, AS_OF)
    assert plain.ok
    plain_fc = F.forecast(plain, days, AS_OF, _params(), react)
    plain_bt = F.backtest(days, AS_OF, _params(), plain, refit=S.fit_one)
    assert plain_bt["cutoff"].nunique() == 3 and plain_fc["reactivation"].sum() == 1700.0
    if not forked:
        monkeypatch.setattr(parallel, "MAX_ROWS", 0)  # every day is above the row limit
    assert parallel.forks(len(days)) == (forked and workers() > 1)

    work = S.ModelWork(_params(), days, ids, AS_OF)
    try:
        fits = work.fits()
        bt = work.backtest(fits)
        fc = work.forecast(react)
    finally:
        work.close()
    assert fits.chosen == plain.chosen and fits.selection == plain.selection
    assert fits.purchases.params_ == plain.purchases.params_
    pd.testing.assert_series_equal(fits.spend, plain.spend, check_exact=True)
    pd.testing.assert_frame_equal(fc, plain_fc, check_exact=True)
    pd.testing.assert_frame_equal(bt, plain_bt, check_exact=True)


def test_model_work_has_nothing_more_when_no_model_was_fitted():
    from clinic_analysis.models import selection as S

    days = pd.DataFrame(
        {
            "patient_id": [f"p{i}" for i in range(40)] + ["p0"],
            "day": pd.to_datetime(["2023-01-05"] * 40 + ["2023-06-01"]),
            "amount": 100.0,
        }
    )
    work = S.ModelWork(_params(), days, days["patient_id"].unique(), AS_OF)
    try:
        fits = work.fits()
        assert fits.status == "too_few_repeaters" and not fits.ok
        with pytest.raises(StopIteration):
            work.forecast()
    finally:
        work.close()


def test_the_clusters_started_early_are_those_of_the_people_in_the_base(small_demo):
    """The clustering starts from the visit summary's base, before the refusers know who
    the people are: it labels the same patients as K.cluster on the people in the base."""
    from clinic_analysis.audit import compute_audit
    from clinic_analysis.models import clusters as K
    from clinic_analysis.params import load_params

    params = load_params(small_demo)
    audit = compute_audit(params)
    people = audit.patients
    cfg = params.models
    cl = K.cluster(K.features(people[people["in_base"]], audit.data.as_of), (cfg.k_min, cfg.k_max))
    assert cl is not None and cl.labels.nunique() >= cfg.k_min
    labels = people.set_index("patient_id")["cluster"].dropna()
    pd.testing.assert_series_equal(
        labels.sort_index(), cl.labels.sort_index(), check_names=False, check_exact=True
    )
