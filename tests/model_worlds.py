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
