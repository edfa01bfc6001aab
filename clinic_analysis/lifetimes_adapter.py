"""The one place that imports ``lifetimes`` (0.11.3, its last release, 2020).

What this module owns, so the rest of the code need not know:

* importing lifetimes installs a process-wide filter that hides every FutureWarning; the
  import happens inside ``warnings.catch_warnings()`` so the caller's filters are restored;
* its calls raise a pandas-4 deprecation warning on current pandas: silenced per call;
* ``lifetimes.datasets`` needs ``pkg_resources`` (gone in setuptools ≥ 82): the CDNOW
  summary is read straight from the package folder instead;
* ``calculate_alive_path``, ``plot_history_alive``, ``plot_expected_repeat_purchases`` and
  the transactional data generator break on current pandas/matplotlib: not used here
  (``clinic_analysis.demo.simulate_bgnbd`` simulates; ``plots`` draws).

Swapping the engine (e.g. pymc-marketing) means rewriting this file only.
"""

from __future__ import annotations

import io
import warnings
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import lifetimes
    from lifetimes import BetaGeoFitter, GammaGammaFitter


@contextmanager
def _quiet():
    """No warnings and no prints (lifetimes prints scipy's result when a fit struggles)."""
    with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def cdnow_summary() -> pd.DataFrame:
    """The CDNOW summary (2,357 customers; time unit weeks) that lifetimes ships."""
    path = Path(lifetimes.__file__).parent / "datasets" / "cdnow_customers_summary.csv"
    return pd.read_csv(path)


def fit_bgnbd(frequency, recency, T, weights=None, penalizer: float = 0.0) -> BetaGeoFitter:
    """Fit BG/NBD; ``weights`` counts identical (frequency, recency, T) rows."""
    model = BetaGeoFitter(penalizer_coef=penalizer)
    with _quiet():
        model.fit(
            np.asarray(frequency, float),
            np.asarray(recency, float),
            np.asarray(T, float),
            weights=None if weights is None else np.asarray(weights, float),
        )
    return model


def bgnbd_params(model: BetaGeoFitter) -> dict[str, float]:
    return {k: float(model.params_[k]) for k in ("r", "alpha", "a", "b")}


ConvergenceError = lifetimes.utils.ConvergenceError  # lifetimes raises it when scipy fails


def bgnbd_loglik(model: BetaGeoFitter) -> float:
    return float(getattr(model, "log_likelihood_", np.nan))


def expected_purchases(model: BetaGeoFitter, t, frequency, recency, T) -> np.ndarray:
    with _quiet():
        return np.asarray(
            model.conditional_expected_number_of_purchases_up_to_time(t, frequency, recency, T),
            float,
        )


def p_alive(model: BetaGeoFitter, frequency, recency, T) -> np.ndarray:
    with _quiet():
        return np.asarray(model.conditional_probability_alive(frequency, recency, T), float)


def unconditional_purchases(model: BetaGeoFitter, t) -> np.ndarray:
    """E[X(t)] for a new customer (the model's population curve)."""
    with _quiet():
        return np.asarray(model.expected_number_of_purchases_up_to_time(t), float)


def prob_n_purchases(model: BetaGeoFitter, t: float, n: int) -> float:
    """P(X(t) = n) for a customer observed for ``t`` since the first purchase."""
    with _quiet():
        return float(model.probability_of_n_purchases_up_to_time(t, n))


def fit_gamma_gamma(frequency, monetary, weights=None, penalizer: float = 0.0):
    model = GammaGammaFitter(penalizer_coef=penalizer)
    with _quiet():
        model.fit(
            np.asarray(frequency, float),
            np.asarray(monetary, float),
            weights=None if weights is None else np.asarray(weights, float),
        )
    return model


def gg_params(model) -> dict[str, float]:
    return {k: float(model.params_[k]) for k in ("p", "q", "v")}


def expected_spend(model, frequency, monetary) -> np.ndarray:
    with _quiet():
        return np.asarray(
            model.conditional_expected_average_profit(
                pd.Series(np.asarray(frequency, float)), pd.Series(np.asarray(monetary, float))
            ),
            float,
        )


def fit_mbgnbd(frequency, recency, T, weights=None, penalizer: float = 0.0):
    """Fit MBG/NBD (Batislam et al. 2007: a customer may drop out right after the first
    purchase, so one without a repeat purchase is not certainly alive); arguments as
    :func:`fit_bgnbd`, and :func:`bgnbd_params` and :func:`p_alive` take the result."""
    model = lifetimes.ModifiedBetaGeoFitter(penalizer_coef=penalizer)
    with _quiet():
        model.fit(
            np.asarray(frequency, float),
            np.asarray(recency, float),
            np.asarray(T, float),
            weights=None if weights is None else np.asarray(weights, float),
        )
    return model
