"""The demo's random processes: BG/NBD and MBG/NBD visits (exact and vectorised), the dental
season and the seasonal clock they run on, appointment times, and the service and doctor of
each visit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clinic_analysis.examples.demo_spec import (
    BRANCHES,
    DOCTORS,
    OTHER_DOCTOR_SHARE,
    SEASON,
    SERVICES,
    SPECIALISTS,
    DemoSpec,
)

# ----------------------------------------------------------------------------- BG/NBD


def simulate_process(n, r, alpha, a, b, T, rng, keep_times, modified=False):
    """The BG/NBD (or, ``modified``, the MBG/NBD) process, exactly and without a loop over
    purchases.

    Given ``lam`` the repeat purchases in (0, T] are ``N ~ Poisson(lam*T)`` points spread
    uniformly; the customer drops out at the ``K``-th repeat purchase, ``K ~ Geometric(p)``
    (independent coin flips after each purchase). So ``frequency = min(N, K)``, ``alive =
    K > N``, and the last observed purchase is the ``frequency``-th of ``N`` uniform order
    statistics: ``recency = T * Beta(frequency, N - frequency + 1)``. Given it, the earlier
    purchases are ``frequency - 1`` sorted uniforms on (0, recency). MBG/NBD (Batislam, Denizel
    & Filiztekin 2007) flips the first coin at the first purchase too, so ``K - 1`` replaces
    ``K``: a customer may drop out right after the first visit and never return.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    for name, val in (("r", r), ("alpha", alpha), ("a", a), ("b", b)):
        if not (np.isfinite(val) and val > 0):
            raise ValueError(f"{name} must be a positive number, got {val}")
    T = np.array(np.broadcast_to(np.asarray(T, dtype=float), (n,)), dtype=float)
    if not (np.isfinite(T).all() and (T >= 0).all()):
        raise ValueError("T must be finite and >= 0")
    lam = rng.gamma(shape=r, scale=1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    n_events = rng.poisson(lam * T)
    k_drop = rng.geometric(np.clip(p, 1e-12, 1.0)) - (1 if modified else 0)
    freq = np.minimum(n_events, k_drop).astype(np.int64)
    alive = k_drop > n_events
    rec = np.zeros(n)
    has = freq > 0
    rec[has] = T[has] * rng.beta(freq[has], n_events[has] - freq[has] + 1)
    owner = times = None
    if keep_times:
        before = np.maximum(freq - 1, 0)
        owner = np.repeat(np.arange(n), before)
        u = rng.random(len(owner)) * rec[owner]
        earlier = u[np.lexsort((u, owner))]
        # each customer's repeat purchases: the sorted earlier ones, then the last one
        last_owner = np.flatnonzero(has)
        owner = np.concatenate([owner, last_owner])
        times = np.concatenate([earlier, rec[last_owner]])
        order = np.argsort(owner, kind="stable")
        owner, times = owner[order], times[order]
    return freq, rec, T, lam, p, alive, owner, times


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: np.ndarray | float,
    rng: np.random.Generator,
    keep_times: bool = False,
) -> pd.DataFrame:
    """Simulate the BG/NBD process (Fader, Hardie & Lee 2005) for ``n`` customers.

    Each customer is observed for ``T`` time units (a number or an array of ``n``) from
    the first purchase at time 0: ``lam ~ Gamma(shape=r, scale=1/alpha)``, ``p ~ Beta(a, b)``;
    repeat purchases arrive as a Poisson process with rate ``lam``; after each *repeat*
    purchase the customer drops out with probability ``p`` (no dropout at the first one).

    The simulation is exact in distribution but vectorised: the number of repeat purchases
    is ``min(Poisson(lam*T), Geometric(p))`` and the purchase times are uniform order
    statistics (see ``simulate_process``), so 100,000 customers take a few hundredths of a second.

    Returns a frame with ``frequency`` (repeat purchases in (0, T]), ``recency`` (time of the
    last purchase since the first; 0 if none), ``T``, ``lam``, ``p``, ``alive`` (not dropped
    out by T) and, with ``keep_times``, ``times``: an array of each customer's repeat
    purchase times, ascending (its last element equals ``recency``). ``keep_times`` draws
    its extra random numbers last, so the other columns do not depend on it.
    """
    return _sim_frame(*simulate_process(n, r, alpha, a, b, T, rng, keep_times), n, keep_times)


def simulate_mbgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: np.ndarray | float,
    rng: np.random.Generator,
    keep_times: bool = False,
) -> pd.DataFrame:
    """Simulate the MBG/NBD process (Batislam, Denizel & Filiztekin 2007) for ``n`` customers.

    As :func:`simulate_bgnbd` (same columns), except that the dropout coin is also flipped at
    the first purchase: with probability ``p`` a customer never returns (``frequency = 0``,
    ``alive = False``). lifetimes fits it with ``ModifiedBetaGeoFitter``.
    """
    out = simulate_process(n, r, alpha, a, b, T, rng, keep_times, modified=True)
    return _sim_frame(*out, n, keep_times)


def _sim_frame(freq, rec, T, lam, p, alive, owner, times, n, keep_times) -> pd.DataFrame:
    out = pd.DataFrame(
        {"frequency": freq, "recency": rec, "T": T, "lam": lam, "p": p, "alive": alive}
    )
    if keep_times:
        parts = np.split(times, np.cumsum(freq)[:-1]) if n else []
        out["times"] = pd.Series(parts, index=out.index, dtype=object)
    return out


# ----------------------------------------------------------------------------- when, what, who


def weighted_choice(
    rng: np.random.Generator, weights: dict | list | np.ndarray, size: int
) -> np.ndarray:
    """Indices drawn with the given (unnormalised) weights."""
    w = np.asarray(list(weights.values()) if isinstance(weights, dict) else weights, float)
    cum = np.cumsum(w / w.sum())
    return np.minimum(np.searchsorted(cum, rng.random(size), side="right"), len(w) - 1)


def season_weights(start: pd.Timestamp, days: int, strength: float = 1.0) -> np.ndarray:
    """Demand on each of ``days`` days from ``start`` relative to an average day: the
    monthly profile ``SEASON`` (``strength`` scales its swing) with the New Year holidays
    (late December, early January) at half or less; the mean over whole years is 1."""
    dates = start + pd.to_timedelta(np.arange(days), unit="D")
    month, dom = dates.month.to_numpy(), dates.day.to_numpy()
    w = 1.0 + strength * (np.asarray(SEASON)[month - 1] - 1.0)
    w = w * np.where((month == 12) & (dom >= 24), 0.5, 1.0)
    w = w * np.where((month == 1) & (dom <= 7), 0.55, 1.0)
    year = start + pd.to_timedelta(np.arange(3653), unit="D")  # ten whole years
    ref = 1.0 + strength * (np.asarray(SEASON)[year.month.to_numpy() - 1] - 1.0)
    ref = ref * np.where((year.month == 12) & (year.day >= 24), 0.5, 1.0)
    ref = ref * np.where((year.month == 1) & (year.day <= 7), 0.55, 1.0)
    return w / ref.mean()


def arrivals(spec: DemoSpec, span: int, start: pd.Timestamp, rng) -> np.ndarray:
    """Sorted day numbers (0 = start, span = as_of) of each person's first contact."""
    day = np.arange(span + 1)
    weight = (1.0 + spec.growth_per_year) ** (day / 365.25) * season_weights(start, span + 1)
    return np.sort(rng.choice(day, size=spec.n_patients, p=weight / weight.sum()))


def seasonal_clock(start: pd.Timestamp, span: int, strength: float) -> np.ndarray:
    """The seasonal clock: ``clock[d]`` is the demand accumulated from day 0 to day ``d``
    (an average day adds 1). The MBG/NBD process runs on this clock, so that visits thin in
    summer and crowd in autumn and winter while a year of it is still about a year."""
    return np.concatenate([[0.0], np.cumsum(season_weights(start, span + 1, strength))])


def calendar_day(clock: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Day numbers (floored) of the points ``t`` on the seasonal clock."""
    return np.floor(np.interp(t, clock, np.arange(len(clock)))).astype(np.int64)


def off_sunday(day: np.ndarray, start: pd.Timestamp, later: np.ndarray | bool) -> np.ndarray:
    """Day numbers with Sundays moved to Monday (``later``) or to Saturday (elsewhere)."""
    day = np.asarray(day, dtype=np.int64)
    sunday = (start + pd.to_timedelta(day, unit="D")).day_of_week.to_numpy() == 6
    return day + np.where(sunday, np.where(later, 1, -1), 0)


def appointment_times(day: np.ndarray, start: pd.Timestamp, rng) -> pd.DatetimeIndex:
    """Day numbers (no Sundays) → appointment date-times on the quarter hour: 09:00–18:45
    on weekdays, 10:00–15:45 on Saturdays."""
    day = np.asarray(day, dtype=np.int64)
    saturday = (start + pd.to_timedelta(day, unit="D")).day_of_week.to_numpy() == 5
    u = rng.random(len(day))
    slot = np.where(saturday, 40 + np.floor(u * 24), 36 + np.floor(u * 40)).astype(np.int64)
    return start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(slot * 15, unit="m")


def services_for(amount: np.ndarray, rng) -> np.ndarray:
    """A service whose usual price range holds the amount (the nearest one otherwise)."""
    lo = np.array([s[2] for s in SERVICES], float)
    hi = np.array([s[3] for s in SERVICES], float)
    w = np.array([s[4] for s in SERVICES], float)
    x = amount[:, None]
    dist = np.maximum(np.maximum(lo - x, x - hi), 0.0)
    ok = dist <= dist.min(axis=1, keepdims=True)
    cum = np.cumsum(ok * w, axis=1)
    u = rng.random(len(amount))[:, None] * cum[:, -1:]
    return np.minimum((cum <= u).sum(axis=1), len(SERVICES) - 1)


def service_index(names: list[str]) -> np.ndarray:
    """Indices in ``SERVICES`` of the named services."""
    idx = {s[1]: k for k, s in enumerate(SERVICES)}
    return np.array([idx[nm] for nm in names])


def doctors_for(line: np.ndarray, home: np.ndarray, branch: np.ndarray, rng) -> np.ndarray:
    """Who sees the visit: the patient's own doctor, a specialist of the line, or now and
    then another doctor of the same branch."""
    doc = home.copy()
    u = rng.random(len(line))
    pick = rng.random(len(line))
    for ln, (by_branch, share) in SPECIALISTS.items():
        for br, docs in by_branch.items():
            m = (line == ln) & (branch == br) & (u < share)
            doc[m] = np.asarray(docs)[np.floor(pick[m] * len(docs)).astype(int)]
    general = ~np.isin(line, list(SPECIALISTS))
    other = general & (u > 1 - OTHER_DOCTOR_SHARE)
    for br in BRANCHES:
        docs = np.array([k for k, d in enumerate(DOCTORS) if d[1] == br])
        m = other & (branch == br)
        doc[m] = docs[np.floor(pick[m] * len(docs)).astype(int)]
    return doc
