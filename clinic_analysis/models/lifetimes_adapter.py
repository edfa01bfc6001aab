"""The one place that imports ``lifetimes`` (0.11.3, its last release, 2020).

What this module owns, so the rest of the code need not know:

* importing lifetimes installs a process-wide filter that hides every FutureWarning; the
  import happens inside ``warnings.catch_warnings()`` so the caller's filters are restored;
* its calls raise a pandas-4 deprecation warning on current pandas: silenced per call;
* ``lifetimes.datasets`` needs ``pkg_resources`` (gone in setuptools ≥ 82): the CDNOW
  summary is read straight from the package folder instead;
* every fit of lifetimes (but Pareto/NBD's) ends with autograd's exact Hessian of the
  likelihood, for ``variance_matrix_``: a third of a fit's time, and nothing here reads it
  (the forecast's parameter draws use :func:`log_param_covariance`). The adapter replaces
  that Hessian by NaNs (:func:`_no_hessian`) and drops the variance figures from the fitted
  model, so they cannot be read by mistake;
* ``calculate_alive_path``, ``plot_history_alive``, ``plot_expected_repeat_purchases`` and
  the transactional data generator break on current pandas/matplotlib: not used here
  (``clinic_analysis.examples.demo.simulate_bgnbd`` simulates; ``plots`` draws).

Swapping the engine (e.g. pymc-marketing) means rewriting this file only.
"""

from __future__ import annotations

import io
import threading
import warnings
from contextlib import ExitStack, contextmanager, redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import hyp2f1

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import lifetimes
    import lifetimes.fitters
    from lifetimes import (
        BetaGeoFitter,
        GammaGammaFitter,
        ModifiedBetaGeoFitter,
        ParetoNBDFitter,
    )

#: the purchase models the audit compares, by the key used in metrics.json
MODELS = ("bgnbd", "mbgnbd", "pareto")
PARAM_NAMES = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "pareto": ("r", "alpha", "s", "beta"),
}
PARETO_TOL, PARETO_MAXITER = 1e-5, 250
_FITTERS = {"bgnbd": BetaGeoFitter, "mbgnbd": ModifiedBetaGeoFitter, "pareto": ParetoNBDFitter}
#: what lifetimes derives from the Hessian: removed from every fitted model
_VARIANCE_ATTRS = ("_hessian_", "variance_matrix_", "standard_errors_", "confidence_intervals_")


def _no_hessian(fun):
    """Stands in for ``autograd.hessian`` in lifetimes' fitters (see the module doc): the
    fit's parameters do not depend on it; the variance lifetimes derives from it is NaN
    and is removed from the model after the fit (:func:`_strip`)."""

    def nan_hessian(x, *args):
        return np.full((len(x), len(x)), np.nan)

    return nan_hessian


lifetimes.fitters.hessian = _no_hessian


def _strip(model):
    """The fitted model without the lambdas that would stop the Audit pickling and without
    the (NaN) variance figures."""
    for name in ("generate_new_data", "predict", *_VARIANCE_ATTRS):
        model.__dict__.pop(name, None)
    return model


_QUIET_LOCK = threading.Lock()
_quiet_state: dict = {"depth": 0, "stack": None}


@contextmanager
def _quiet():
    """No warnings and no prints (lifetimes prints scipy's result when a fit struggles).

    Fits run in parallel threads (:mod:`clinic_analysis.models.selection`), and
    ``catch_warnings``/``redirect_stdout`` change process-wide state: the first thread in
    silences, the last one out restores, so no thread restores another's state."""
    with _QUIET_LOCK:
        if _quiet_state["depth"] == 0:
            stack = ExitStack()
            stack.enter_context(warnings.catch_warnings())
            stack.enter_context(redirect_stdout(io.StringIO()))
            for category in (FutureWarning, DeprecationWarning, RuntimeWarning):
                warnings.simplefilter("ignore", category)
            _quiet_state["stack"] = stack
        _quiet_state["depth"] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _quiet_state["depth"] -= 1
            if _quiet_state["depth"] == 0:
                _quiet_state.pop("stack").close()


def cdnow_summary() -> pd.DataFrame:
    """The CDNOW summary (2,357 customers; time unit weeks) that lifetimes ships."""
    path = Path(lifetimes.__file__).parent / "datasets" / "cdnow_customers_summary.csv"
    return pd.read_csv(path)


def fit_purchases(
    kind: str, frequency, recency, T, weights=None, penalizer: float = 0.0, initial=None
):
    """Fit one of :data:`MODELS` on (frequency, recency, T) rows; ``weights`` counts
    identical rows. ``initial``: parameters to start from (e.g. a previous fit's)."""
    model = _FITTERS[kind](penalizer_coef=penalizer)
    args = [np.asarray(v, float) for v in (frequency, recency, T)]
    kw = {"weights": None if weights is None else np.asarray(weights, float)}
    if kind == "pareto":  # Nelder-Mead on a hypergeometric likelihood: bounded effort
        kw.update(tol=PARETO_TOL, maxiter=PARETO_MAXITER)
        if initial is None:  # lifetimes would start from a random point: start from 1s
            t_max = float(args[2].max())
            initial = {"r": 1.0, "alpha": t_max, "s": 1.0, "beta": t_max}
    if initial is not None:
        x0 = np.asarray([initial[k] for k in PARAM_NAMES[kind]], float)
        scale = 1.0 / args[2].max()  # lifetimes fits on time scaled to max(T) = 1
        x0[1] *= scale
        if kind == "pareto":
            x0[3] *= scale
        else:
            x0 = np.log(x0)
        kw["initial_params"] = x0
    with _quiet():
        model.fit(*args, **kw)
    return _strip(model)


def fit_bgnbd(frequency, recency, T, weights=None, penalizer: float = 0.0) -> BetaGeoFitter:
    """Fit BG/NBD; ``weights`` counts identical (frequency, recency, T) rows."""
    return fit_purchases("bgnbd", frequency, recency, T, weights, penalizer)


def model_params(model) -> dict[str, float]:
    return {k: float(model.params_[k]) for k in model.params_.index}


def bgnbd_params(model: BetaGeoFitter) -> dict[str, float]:
    return model_params(model)


ConvergenceError = lifetimes.utils.ConvergenceError  # lifetimes raises it when scipy fails


def log_likelihood(kind: str, params: dict, frequency, recency, T, weights=None) -> float:
    """The total log-likelihood of the rows under a model (time in the rows' own unit),
    from lifetimes' own likelihood functions without their penalty."""
    f, r, t = (np.asarray(v, float) for v in (frequency, recency, T))
    w = np.ones_like(f) if weights is None else np.asarray(weights, float)
    x = np.asarray([params[k] for k in PARAM_NAMES[kind]], float)
    with _quiet():
        if kind == "pareto":
            nll = ParetoNBDFitter._negative_log_likelihood(x, f, r, t, w, 0.0)
            return float(-nll * w.mean())
        nll = _FITTERS[kind]._negative_log_likelihood(np.log(x), f, r, t, w, 0.0)
        return float(-nll * w.sum())


def bgnbd_loglik(model: BetaGeoFitter) -> float:
    return float(getattr(model, "log_likelihood_", np.nan))


def expected_purchases(model, t, frequency, recency, T, pairs=None) -> np.ndarray:
    """E[repeat purchases in the next ``t``] per row: lifetimes' formula, with its
    Gauss hypergeometric term (three quarters of the time) found once per distinct
    (frequency, T) (it does not depend on recency) for BG/NBD and MBG/NBD; the same
    operations in the same order, so the same numbers to the last bit
    (tests/models/test_fast_paths.py). ``pairs``: :func:`distinct_pairs` of these rows,
    when the caller has them."""
    kind = type(model)
    if kind not in (BetaGeoFitter, ModifiedBetaGeoFitter) or np.ndim(frequency) != 1 or np.ndim(t):
        with _quiet():
            return np.asarray(
                model.conditional_expected_number_of_purchases_up_to_time(t, frequency, recency, T),
                float,
            )
    x, rec, T = (np.asarray(v, float) for v in (frequency, recency, T))
    r, alpha, a, b = (model.params_[k] for k in ("r", "alpha", "a", "b"))
    codes, first = distinct_pairs(x, T) if pairs is None else pairs
    xu, Tu = x[first], T[first]
    with np.errstate(all="ignore"):
        if kind is ModifiedBetaGeoFitter:  # lifetimes 0.11.3, modified_beta_geo_fitter.py
            hyp_term = hyp2f1(r + xu, b + xu + 1, a + b + xu, t / (alpha + Tu + t))[codes]
            first_term = (a + b + x) / (a - 1)
            second_term = 1 - hyp_term * ((alpha + T) / (alpha + t + T)) ** (r + x)
            numerator = first_term * second_term
            denominator = 1 + (a / (b + x)) * ((alpha + T) / (alpha + rec)) ** (r + x)
            return numerator / denominator
        # lifetimes 0.11.3, beta_geo_fitter.py
        _a, _b, _c = r + xu, b + xu, a + b + xu - 1
        _z = t / (alpha + Tu + t)
        ln_hyp_term = np.log(hyp2f1(_a, _b, _c, _z))
        ln_hyp_term_alt = np.log(hyp2f1(_c - _a, _c - _b, _c, _z)) + (_c - _a - _b) * np.log(1 - _z)
        ln_hyp_term = np.where(np.isinf(ln_hyp_term), ln_hyp_term_alt, ln_hyp_term)[codes]
        first_term = (a + b + x - 1) / (a - 1)
        second_term = 1 - np.exp(ln_hyp_term + (r + x) * np.log((alpha + T) / (alpha + t + T)))
        numerator = first_term * second_term
        denominator = 1 + (x > 0) * (a / (b + x - 1)) * ((alpha + T) / (alpha + rec)) ** (r + x)
        return numerator / denominator


def distinct_pairs(x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code among the distinct (x, T) pairs, and a row of each pair."""
    codes, uniques = pd.factorize(x + 1j * T, use_na_sentinel=False)  # exact: 2 floats, 1 key
    first = np.empty(len(uniques), np.intp)
    first[codes[::-1]] = np.arange(len(x))[::-1]
    return codes, first


def p_alive(model, frequency, recency, T) -> np.ndarray:
    with _quiet():
        return np.asarray(model.conditional_probability_alive(frequency, recency, T), float)


def unconditional_purchases(model, t) -> np.ndarray:
    """E[X(t)] for a new customer (the model's population curve)."""
    with _quiet():
        return np.asarray(model.expected_number_of_purchases_up_to_time(t), float)


def prob_n_purchases(model, t: float, n: int) -> float:
    """P(X(t) = n) for a customer observed for ``t`` since the first purchase."""
    with _quiet():
        if isinstance(model, ParetoNBDFitter):  # conditional on nothing seen yet
            return float(model.conditional_probability_of_n_purchases_up_to_time(n, t, 0, 0, 0))
        return float(model.probability_of_n_purchases_up_to_time(t, n))


def fit_gamma_gamma(frequency, monetary, weights=None, penalizer: float = 0.0):
    model = GammaGammaFitter(penalizer_coef=penalizer)
    with _quiet():
        model.fit(
            np.asarray(frequency, float),
            np.asarray(monetary, float),
            weights=None if weights is None else np.asarray(weights, float),
        )
    return _strip(model)


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
    purchase, so one without a repeat purchase is not certainly alive)."""
    return fit_purchases("mbgnbd", frequency, recency, T, weights, penalizer)


def log_param_covariance(kind: str, params: dict, frequency, recency, T, weights=None):
    """Covariance of the log parameters: the inverse of minus the log-likelihood's Hessian
    (central finite differences, the same for every model). None if it is not a maximum."""
    names = PARAM_NAMES[kind]
    x0 = np.log([params[k] for k in names])
    h = 1e-3

    def ll(x):
        return log_likelihood(kind, dict(zip(names, np.exp(x), strict=True)), frequency, recency,
                              T, weights)  # fmt: skip

    n = len(x0)
    H = np.empty((n, n))
    f0 = ll(x0)
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            if i == j:
                H[i, i] = (ll(x0 + ei) - 2 * f0 + ll(x0 - ei)) / h**2
            else:
                H[i, j] = H[j, i] = (
                    ll(x0 + ei + ej) - ll(x0 + ei - ej) - ll(x0 - ei + ej) + ll(x0 - ei - ej)
                ) / (4 * h**2)
    try:
        cov = np.linalg.inv(-H)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(cov)) or np.any(np.linalg.eigvalsh((cov + cov.T) / 2) <= 0):
        return None
    return (cov + cov.T) / 2
