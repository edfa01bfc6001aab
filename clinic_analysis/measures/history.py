"""How much history the data covers, and whether it is enough for a time-based figure.

One rule for every section: a figure that needs history (activity limits, the models, the
forecast, year-on-year readings, cohort retention) is computed only when the completed visits
span at least ``params.history.min_months`` months before the audit date; otherwise its
metrics carry ``status: "too_little_history"`` and the report says so instead of a number.
"""

from __future__ import annotations

import pandas as pd

AVG_MONTH_DAYS = 365.25 / 12  # days in an average month (30.4375); every stage uses this one
TOO_LITTLE_HISTORY = "too_little_history"


def months_of_history(days: pd.DataFrame, as_of: pd.Timestamp) -> float:
    """Months from the first completed visit day to the audit date (0 without visits)."""
    if days.empty:
        return 0.0
    first = pd.Timestamp(days["day"].min())
    return max(0.0, (pd.Timestamp(as_of) - first).days / AVG_MONTH_DAYS)


def enough_history(days: pd.DataFrame, as_of: pd.Timestamp, min_months: int) -> bool:
    """True when the visits span at least ``min_months`` months before ``as_of``."""
    return months_of_history(days, as_of) >= min_months
