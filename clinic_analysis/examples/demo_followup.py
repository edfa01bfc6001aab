"""A demo of the front desk's loop: the demo clinic audited, called, and audited again.

:func:`generate_followup` writes into ``out_dir``:

* ``previous/``: the demo clinic's exports (:func:`clinic_analysis.examples.demo.generate_demo`), its
  audit's ``metrics.json`` and the ``call_lists.xlsx`` it issued;
* ``call_lists.filled.xlsx``: those lists filled in the way an administrator would (openpyxl:
  an outcome from the drop-down, a refusal reason, the date called and who called), at known
  response rates (:class:`LoopSpec`);
* ``visits.csv``, ``patients.csv``, ``plans.xlsx``: the clinic's export ``months`` later: the
  demo's visits up to its ``as_of`` (the bookings after it are dropped: they are replaced by
  what happened) plus the new quarter's completed visits. A listed patient comes with a known
  probability: higher once booked on the call than for those not called (the control);
  patients not on the lists keep visiting at their usual pace;
* ``truth.json``: per list, the figures the follow-up audit must report (listed, called,
  reached, booked, came, the control's came, revenue).

``params/demo_followup.yaml`` audits the new export with ``followup:`` naming the filled lists
and the previous metrics, so ``make report CLINIC=demo_followup`` shows the whole loop.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from clinic_analysis.examples.demo import DemoSpec, generate_demo
from clinic_analysis.examples.export import money_text, money_value, write_csv
from clinic_analysis.i18n import Catalog
from clinic_analysis.measures.calls import OUTCOMES, REASONS, card_keys

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEMO_PARAMS = PROJECT_DIR / "params" / "demo.yaml"
CALLERS = ("Оксана", "Ірина", "Марина")


@dataclass(frozen=True)
class LoopSpec:
    """The front desk's known behaviour and the patients' known response."""

    p_called: float = 0.6  # a listed patient is called
    outcome_weights: dict = field(
        default_factory=lambda: {
            "not_reached": 0.25,
            "wrong_number": 0.05,
            "call_back": 0.15,
            "booked": 0.30,
            "refused": 0.20,
            "do_not_call": 0.05,
        }
    )
    p_came_booked: float = 0.7  # booked on the call: comes within the quarter
    p_came_called: float = 0.08  # called, not booked
    p_came_control: float = 0.05  # not called
    p_came_other: float = 0.45  # not on the lists, seen in the last 12 months
    months: int = 3


def generate_followup(
    out_dir: Path | str, n_patients: int = 5000, seed: int = 20261122, loop: LoopSpec = LoopSpec()
) -> dict:
    """Write the previous audit, the filled lists and the next export; returns the truth."""
    from clinic_analysis.audit import compute_audit
    from clinic_analysis.params import load_params
    from clinic_analysis.report.reuse import write_data_outputs

    out = Path(out_dir)
    prev = out / "previous"
    spec = DemoSpec(n_patients=n_patients, seed=seed)
    generate_demo(prev / "data", spec)
    raw = yaml.safe_load(DEMO_PARAMS.read_text(encoding="utf-8"))
    raw.pop("demo", None)
    raw["clinic"]["as_of"] = spec.as_of
    raw["clinic"]["slug"] = "demo"
    for s in raw["sources"]:
        s["path"] = str(prev / "data" / Path(s["path"]).name)
    params_path = prev / "demo.yaml"
    params_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    audit = compute_audit(load_params(params_path))
    write_data_outputs(audit, prev)
    (prev / "patients.parquet").unlink()
    (prev / "rejected_rows.csv").unlink()

    rng = np.random.default_rng(seed + 13)
    as_of = pd.Timestamp(spec.as_of)
    calls = fill_call_lists(
        prev / "call_lists.xlsx", out / "call_lists.filled.xlsx", as_of, loop, rng
    )
    visits, came = next_quarter(prev / "data" / "visits.csv", calls, as_of, loop, rng)
    write_csv(visits, out / "visits.csv")
    for name in ("patients.csv", "plans.xlsx"):
        shutil.copyfile(prev / "data" / name, out / name)
    calls = calls.merge(came, on="card", how="left").fillna({"came": False, "revenue": 0.0})
    truth = {
        "previous_as_of": as_of.date().isoformat(),
        "as_of": (as_of + pd.DateOffset(months=loop.months)).date().isoformat(),
        "loop": asdict(loop),
        "by_segment": truth_by_segment(calls),
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return truth


def fill_call_lists(
    issued: Path, filled: Path, as_of: pd.Timestamp, loop: LoopSpec, rng
) -> pd.DataFrame:
    """Fill the issued lists as an administrator would; returns one row per listed patient
    (``list``, ``card``, ``called``, ``outcome``)."""
    from openpyxl import load_workbook

    from clinic_analysis.measures.followup import read_meta

    meta = read_meta(issued)
    t = Catalog(meta["language"])
    wb = load_workbook(issued)
    names = [k for k in OUTCOMES if k in loop.outcome_weights]
    weights = np.array([loop.outcome_weights[k] for k in names], dtype=float)
    rows = []
    for name, key, first, cols in meta["sheets"]:
        if key == "do_not_contact":
            continue
        ws = wb[name]
        col = {c: i + 1 for i, c in enumerate(cols)}
        for r in range(first + 1, ws.max_row + 1):
            card = ws.cell(r, col["card"]).value
            if not card:
                continue
            called = bool(rng.random() < loop.p_called)
            outcome = str(rng.choice(names, p=weights / weights.sum())) if called else ""
            if called:
                ws.cell(r, col["outcome"]).value = t(f"calls.outcome.{outcome}")
                if outcome == "refused":
                    ws.cell(r, col["reason"]).value = t(f"calls.reason.{rng.choice(REASONS)}")
                day = as_of + pd.Timedelta(days=int(rng.integers(1, 29)))
                ws.cell(r, col["called_on"]).value = day.to_pydatetime()
                ws.cell(r, col["called_by"]).value = str(rng.choice(CALLERS))
            rows.append({"list": key, "card": str(card), "called": called, "outcome": outcome})
    wb.save(filled)
    return pd.DataFrame(rows, columns=["list", "card", "called", "outcome"])


def next_quarter(
    visits_csv: Path, calls: pd.DataFrame, as_of: pd.Timestamp, loop: LoopSpec, rng
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The export ``loop.months`` later: the old visits up to ``as_of`` and the quarter's
    completed visits. Returns ``(visits, came)``; ``came`` per listed card: ``came``,
    ``revenue`` (the new visits' sum)."""
    old = pd.read_csv(visits_csv, sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    cols = list(old.columns)
    vid, pid, date, doctor, service, line, amount, status, branch = cols
    when = pd.to_datetime(old[date], format="%d.%m.%Y %H:%M")
    old = old[when <= as_of + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)]
    when = when[old.index]
    done = old[status] == "Виконано"
    end = as_of + pd.DateOffset(months=loop.months)
    span = (end - as_of).days

    p = np.where(
        calls["outcome"] == "booked",
        loop.p_came_booked,
        np.where(calls["called"], loop.p_came_called, loop.p_came_control),
    )
    calls = calls.assign(came=rng.random(len(calls)) < p)
    comers = [card_keys(c)[0].split(":", 1)[1] for c in calls.loc[calls["came"], "card"]]
    listed_ids = {k.split(":", 1)[1] for c in calls["card"] for k in card_keys(c)}
    recent = old.loc[done & (when > as_of - pd.DateOffset(months=12)), pid].unique()
    others = [x for x in sorted(recent) if x not in listed_ids]
    others = [x for x in others if rng.random() < loop.p_came_other]
    last = old[done].assign(_w=when[done]).sort_values("_w").drop_duplicates(pid, keep="last")
    last = last.set_index(pid)
    templates = old[done & (old[amount] != "")]
    new = []
    n0 = len(old) + 1
    for i, patient in enumerate([*comers, *others]):
        like = templates.iloc[int(rng.integers(len(templates)))]
        day = as_of + pd.Timedelta(days=int(rng.integers(1, span + 1)))
        day = day + pd.Timedelta(hours=int(rng.integers(9, 19)), minutes=15 * int(rng.integers(4)))
        value = float(rng.integers(6, 80)) * 100
        new.append(
            {
                vid: f"F{n0 + i:07d}",
                pid: patient,
                date: day.strftime("%d.%m.%Y %H:%M"),
                doctor: last[doctor].get(patient, like[doctor]),
                service: like[service],
                line: like[line],
                amount: money_text(value),
                status: "Виконано",
                branch: last[branch].get(patient, like[branch]),
            }
        )
    visits = pd.concat([old, pd.DataFrame(new, columns=cols)], ignore_index=True)
    money = {r[pid]: 0.0 for r in new}
    for r in new:
        money[r[pid]] += money_value(r[amount])
    first_id = calls["card"].map(lambda c: card_keys(c)[0].split(":", 1)[1])
    came = pd.DataFrame(
        {
            "card": calls["card"],
            "came": calls["came"],
            "revenue": first_id.map(money).fillna(0.0).where(calls["came"], 0.0),
        }
    )
    return visits, came


def truth_by_segment(calls: pd.DataFrame) -> dict:
    """Per list: what the generator did, in the follow-up's terms."""
    out = {}
    for key, r in calls.groupby("list", sort=False):
        c, ctl = r[r["called"]], r[~r["called"]]
        out[str(key)] = {
            "listed": int(len(r)),
            "called": int(len(c)),
            "reached": int((~c["outcome"].isin(["not_reached", "wrong_number"])).sum()),
            "booked": int((c["outcome"] == "booked").sum()),
            "came": int(c["came"].sum()),
            "control": int(len(ctl)),
            "control_came": int(ctl["came"].sum()),
            "revenue": round(float(c["revenue"].sum()), 2),
            "control_revenue": round(float(ctl["revenue"].sum()), 2),
        }
    return out


def main() -> None:  # pragma: no cover - a convenience for `python -m`
    import sys

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT_DIR / "data" / "demo_followup"
    generate_followup(out)
    print(f"written to {out}")


if __name__ == "__main__":  # pragma: no cover
    main()
