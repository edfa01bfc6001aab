"""Simulated clinics with known truth for the model tests (no lifetimes involved).

Each patient is observed for ``T`` days after the first visit. Visit rate ``lam ~ Gamma(r,
1/alpha)``; visits form a Poisson process; how patients leave differs by world:

* ``mbgnbd``: leaves with probability ``p ~ Beta(a, b)`` right after each visit, the first
  one included (Batislam et al. 2007);
* ``pareto``: leaves at an exponential time with rate ``mu ~ Gamma(s, 1/beta)``;
* ``bgnbd``: as ``mbgnbd`` but never right after the first visit;
* ``one_third_never``: a third of first-timers leave at once; the rest follow ``bgnbd``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _visit_times(lam, horizon, rng):
    """Poisson-process times in (0, horizon] per patient, as a list of sorted arrays."""
    n = rng.poisson(lam * horizon)
    return [np.sort(rng.uniform(0, h, k)) for k, h in zip(n, horizon, strict=True)]


def simulate(world: str, n: int, params: dict, T, rng) -> pd.DataFrame:
    """frequency, recency, T, alive (at T) and the visit times for ``n`` patients."""
    T = np.broadcast_to(np.asarray(T, float), (n,)).copy()
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    if world == "pareto":
        mu = rng.gamma(params["s"], 1 / params["beta"], n)
        death = rng.exponential(1 / mu)
        times = _visit_times(lam, np.minimum(death, T), rng)
        alive = death > T
    else:
        p = rng.beta(params["a"], params["b"], n)
        # repeat visits allowed before leaving (MBG/NBD: may be 0, leaving after the first)
        k = rng.geometric(p) - (1 if world == "mbgnbd" else 0)
        if world == "one_third_never":
            k = np.where(rng.uniform(size=n) < 1 / 3, 0, k)
        full = _visit_times(lam, T, rng)
        times = [t[:kk] for t, kk in zip(full, k, strict=True)]
        alive = np.array([len(f) for f in full]) < k
    freq = np.array([len(t) for t in times])
    rec = np.round([t[-1] if len(t) else 0.0 for t in times])
    return pd.DataFrame({"frequency": freq, "recency": rec, "T": T, "alive": alive,
                         "times": times})  # fmt: skip


def to_days(sim: pd.DataFrame, as_of: pd.Timestamp, spend: float = 1000.0, rng=None):
    """Visit days of a simulated world as the pipeline has them: patient_id, day, amount
    (each patient's first visit ``T`` days before ``as_of``)."""
    rng = rng or np.random.default_rng(0)
    first = as_of - pd.to_timedelta(np.round(sim["T"].to_numpy()), unit="D")
    pid = np.repeat(np.arange(len(sim)), 1 + sim["frequency"].to_numpy())
    offs = np.concatenate([np.concatenate([[0.0], np.round(t)]) for t in sim["times"]])
    days = pd.DataFrame(
        {"patient_id": [f"p{i}" for i in pid],
         "day": first[pid] + pd.to_timedelta(offs, unit="D")}
    )  # fmt: skip
    days = days.drop_duplicates(["patient_id", "day"]).sort_values(["patient_id", "day"])
    days["amount"] = rng.gamma(4.0, spend / 4.0, len(days)).round()
    return days.reset_index(drop=True)


def clinic(world: str, params: dict, years: float, per_month: float, as_of, rng):
    """A clinic whose new patients arrive at ``per_month`` for ``years`` before ``as_of``,
    each then following ``world``: its visit days (patient_id, day, amount)."""
    span = int(years * 365.25)
    n = rng.poisson(per_month * span / 30.4375)
    T = rng.integers(1, span, n).astype(float)
    return to_days(simulate(world, n, params, T, rng), as_of, rng=rng)
