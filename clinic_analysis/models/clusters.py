"""Clustering of the base: k-means on log-scaled recency, frequency, monetary and tenure.

A scikit-learn ``Pipeline`` (log1p → standard scaler → KMeans, fixed ``random_state``); k is
chosen by the silhouette score within a range; clusters are named from their profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

FEATURES = ("recency_days", "frequency", "monetary", "tenure_days")
SEED = 20261122


def pipeline(k: int):
    # scikit-learn is imported here, not at the top: importing it costs over a second and
    # only the clustering needs it (a report rendered from the cache never pays it)
    from sklearn.cluster import KMeans
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return Pipeline(
        [
            ("log", FunctionTransformer(np.log1p)),
            ("scale", StandardScaler()),
            ("kmeans", KMeans(n_clusters=k, n_init=4, random_state=SEED)),
        ]
    )


@dataclass
class Clustering:
    k: int
    silhouette: float
    scores: dict[int, float]
    labels: pd.Series  # cluster name per patient
    profile: pd.DataFrame  # per cluster: size and median features


def features(people: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """recency_days (since the last visit), frequency (visit days), monetary (revenue),
    tenure_days (since the first visit) for patients with a visit. Without spend (no
    amounts exported, or none above zero) ``monetary`` is left out: the clusters are then
    formed and named from visits alone."""
    p = people[people["visits"] > 0].set_index("patient_id")
    out = pd.DataFrame(
        {
            "recency_days": (as_of - p["last_visit"]).dt.days.clip(lower=0),
            "frequency": p["visits"],
            "monetary": p["revenue"].clip(lower=0),
            "tenure_days": (as_of - p["first_visit"]).dt.days.clip(lower=0),
        }
    ).astype(float)
    if not (out["monetary"] > 0).any():
        out = out.drop(columns="monetary")
    return out


def name_clusters(profile: pd.DataFrame, population: pd.Series) -> dict[int, str]:
    """Names from each cluster's medians against the whole base's medians."""
    names: dict[int, str] = {}
    for c, row in profile.iterrows():
        recent = row["recency_days"] <= population["recency_days"]
        rich = "monetary" in row and row["monetary"] >= 1.5 * population["monetary"]
        frequent = row["frequency"] > population["frequency"]
        young = row["tenure_days"] <= 0.5 * population["tenure_days"]
        if recent and young and not frequent:
            name = "new"
        elif recent and rich:
            name = "loyal_high_value"
        elif recent and frequent:
            name = "loyal_frequent"
        elif recent:
            name = "regular"
        elif rich:
            name = "sleeping_big_spenders"
        elif frequent:
            name = "sleeping_frequent"
        elif row["frequency"] <= 1:
            name = "lost_low_value" if "monetary" in row else "lost_one_visit"
        else:
            name = "sleeping"
        names[c] = name
    # unique names: the larger cluster keeps the plain name
    seen: dict[str, int] = {}
    for c in profile.sort_values("patients", ascending=False).index:
        n = names[c]
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[c] = f"{n}_{seen[n]}"
    return names


def cluster(X: pd.DataFrame, k_range=(3, 6), sample: int = 5000) -> Clustering | None:
    """Fit k-means for each k in the range on a fixed sample of at most ``sample`` patients,
    score it by silhouette on that sample, keep the best and label every patient."""
    if len(X) < max(k_range[1] * 10, 30):
        return None
    from sklearn.metrics import pairwise_distances_chunked, silhouette_score
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(SEED)
    idx = np.sort(rng.choice(len(X), size=min(sample, len(X)), replace=False))
    S = X.iloc[idx]
    scores, fitted = {}, {}
    # one thread: on a sample this small, OpenMP threads mostly wait on each other (a
    # quarter of the CPU time on 2 busy cores; the same clusters and scores)
    with threadpool_limits(limits=1):
        distances = None
        for k in range(k_range[0], k_range[1] + 1):
            fitted[k] = pipe = pipeline(k).fit(S)
            if distances is None:  # the scaled sample is the same for every k: its
                # distances (in silhouette_score's own chunks) are found once
                chunks = list(pairwise_distances_chunked(pipe[:-1].transform(S)))
                distances = chunks[0] if len(chunks) == 1 else np.vstack(chunks)
            labels = pipe[-1].labels_
            scores[k] = float(silhouette_score(distances, labels, metric="precomputed"))
        best = max(scores, key=scores.get)
        labels = pd.Series(fitted[best].predict(X), index=X.index)
    profile = X.groupby(labels).median()
    profile["patients"] = labels.value_counts()
    names = name_clusters(profile, X.median())
    profile.index = [names[c] for c in profile.index]
    return Clustering(
        k=best,
        silhouette=scores[best],
        scores=scores,
        labels=labels.map(names),
        profile=profile.sort_values("patients", ascending=False),
    )
