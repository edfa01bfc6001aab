"""The model stage's fast paths give the library path's numbers, to the last bit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic_analysis.models import lifetimes_adapter as L

# a few patients, several sharing (frequency, T) but not recency
FREQ = [0, 0, 1, 1, 1, 3, 3, 7, 0, 12]
REC = [0, 0, 30, 200, 200, 90, 300, 400, 0, 700]
T = [10, 500, 300, 300, 300, 400, 400, 410, 10, 730]


def _library(model, t, f, r, T_):
    """lifetimes' own conditional expectation (no adapter in between)."""
    return np.asarray(model.conditional_expected_number_of_purchases_up_to_time(t, f, r, T_))


@pytest.fixture(scope="module")
def fitted():
    """BG/NBD and MBG/NBD fitted through the adapter on the rows above."""
    f, r, t = (np.asarray(v, float) for v in (FREQ, REC, T))
    return {kind: L.fit_purchases(kind, f, r, t) for kind in ("bgnbd", "mbgnbd")}


@pytest.mark.parametrize("kind", ["bgnbd", "mbgnbd"])
def test_expected_purchases_equal_lifetimes_to_the_last_bit(fitted, kind):
    model = fitted[kind]
    f, r, t = (np.asarray(v, float) for v in (FREQ, REC, T))
    for horizon in (1.0, 30.0, 365.0, 3000.0):
        ours = L.expected_purchases(model, horizon, f, r, t)
        assert np.array_equal(ours, _library(model, horizon, f, r, t), equal_nan=True)
    # rows that share (frequency, T) but not recency get different expectations
    ours = L.expected_purchases(model, 90.0, f, r, t)
    assert ours[2] != ours[3] and ours[3] == ours[4]


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["bgnbd", "mbgnbd"]),
    rows=st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 2000), st.integers(0, 2000)),
        min_size=1,
        max_size=40,
    ),
    params=st.tuples(*[st.floats(0.05, 20.0)] * 4),
    horizon=st.floats(0.5, 5000.0),
)
def test_expected_purchases_equal_lifetimes_on_any_rows_and_parameters(
    fitted, kind, rows, params, horizon
):
    f = np.array([x for x, _, _ in rows], float)
    T_ = np.array([max(a, b) for _, a, b in rows], float)
    r = np.array([min(a, b) for _, a, b in rows], float)
    r[f == 0] = 0.0
    model = fitted[kind]
    old = model.params_
    try:
        model.params_ = old.copy()
        model.params_[:] = params
        ours = L.expected_purchases(model, horizon, f, r, T_)
        with L._quiet(), np.errstate(all="ignore"):
            theirs = _library(model, horizon, f, r, T_)
    finally:
        model.params_ = old
    assert np.array_equal(ours, theirs, equal_nan=True)


def test_fit_skips_the_hessian_nothing_reads_and_keeps_the_parameters():
    """The adapter drops lifetimes' autograd Hessian: the parameters are those of the fit
    with the Hessian, and no variance figure is left to be read by mistake."""
    import lifetimes.fitters
    from autograd import hessian

    f, r, t = (np.asarray(v, float) for v in (FREQ, REC, T))
    fast = L.fit_purchases("mbgnbd", f, r, t)
    lifetimes.fitters.hessian = hessian  # lifetimes as shipped
    try:
        with L._quiet():
            full = L.ModifiedBetaGeoFitter().fit(f, r, t)
    finally:
        lifetimes.fitters.hessian = L._no_hessian
    assert np.isfinite(full.variance_matrix_.to_numpy()).all()  # it did compute one
    assert L.model_params(fast) == L.model_params(full)
    for name in ("variance_matrix_", "standard_errors_", "confidence_intervals_"):
        assert not hasattr(fast, name)


def test_thread_map_keeps_the_order_and_raises_the_error():
    from clinic_analysis.models.parallel import thread_map

    assert thread_map(lambda x: x * x, [3, 1, 2]) == [9, 1, 4]

    def fail_on_two(x):
        if x == 2:
            raise ValueError("two")
        return x

    with pytest.raises(ValueError, match="two"):
        thread_map(fail_on_two, [1, 2, 3])


def test_quiet_in_overlapping_threads_gives_back_stdout_and_warning_filters():
    """Thread A silences, B silences, A leaves, B leaves: afterwards print and the warning
    filters are as before (with plain catch_warnings/redirect_stdout, B would restore A's
    silenced state)."""
    import sys
    import threading
    import warnings

    stdout, filters = sys.stdout, list(warnings.filters)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def a():
        with L._quiet():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b():
        a_in.wait(5)
        with L._quiet():
            b_in.set()
            a_out.wait(5)
            seen.append(sys.stdout is not stdout)  # still silenced after A left

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == [True]
    assert sys.stdout is stdout
    assert list(warnings.filters) == filters


def test_cluster_scores_equal_sklearns_silhouette_of_each_k():
    """The distances of the sample are found once for every k: each k's score is still
    exactly sklearn's silhouette_score of that k's fit."""
    import pandas as pd
    from sklearn.metrics import silhouette_score

    from clinic_analysis.models import clusters as K

    rng = np.random.default_rng(1)
    X = pd.DataFrame(
        {
            "recency_days": rng.integers(0, 900, 300),
            "frequency": rng.integers(1, 12, 300),
            "monetary": rng.gamma(2.0, 800.0, 300),
            "tenure_days": rng.integers(0, 1500, 300),
        }
    ).astype(float)
    cl = K.cluster(X, (3, 5), sample=200)
    S = X.iloc[np.sort(np.random.default_rng(K.SEED).choice(300, size=200, replace=False))]
    for k in (3, 4, 5):
        pipe = K.pipeline(k).fit(S)
        assert cl.scores[k] == float(silhouette_score(pipe[:-1].transform(S), pipe[-1].labels_))
    assert cl.k == max(cl.scores, key=cl.scores.get)
    assert cl.labels.notna().all() and len(cl.labels) == 300


def test_in_background_runs_here_above_the_row_limit_and_keeps_the_error():
    import threading

    from clinic_analysis.models.parallel import MAX_ROWS, in_background, workers

    here = threading.get_ident()
    pool, task = in_background(threading.get_ident, rows=MAX_ROWS + 1)
    assert task.result() == here  # a million patients' days: one thing at a time
    pool, task = in_background(lambda: 1 / 0, rows=MAX_ROWS + 1)
    with pytest.raises(ZeroDivisionError):
        task.result()
    pool, task = in_background(threading.get_ident, rows=10)
    assert (task.result() != here) == (workers() > 1)
    pool.shutdown()
