"""`make bench`: time the pipeline stages on synthetic clinics of growing size.

Two tables: loading a visits CSV and computing the audit (10k to 1M visit rows); building
the (frequency, recency, T) summary and fitting BG/NBD + Gamma-Gamma (10k to 1M patients).

For each size it writes a visits CSV shaped like a real export (`;`, decimal commas,
day-first dates, Ukrainian status words), then measures loading (CSV -> canonical tables,
identity resolution, ledger) and computing the audit, each in a fresh process so that peak
memory (ru_maxrss) belongs to that stage alone.

    python scripts/bench.py [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

STATUS = np.array(["Виконано", "Не з'явився", "Скасовано", "Повернення"])


def write_clinic(folder: Path, n_rows: int, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    n_patients = max(n_rows // 5, 1)
    pid = rng.integers(0, n_patients, n_rows)
    days = rng.integers(0, 5 * 365, n_rows)
    date = pd.Timestamp("2021-11-01") + pd.to_timedelta(days, unit="D")
    minutes = rng.integers(9 * 4, 19 * 4, n_rows) * 15
    date = date + pd.to_timedelta(minutes, unit="m")
    amount = rng.gamma(3.0, 800.0, n_rows).round(-1)
    status = STATUS[rng.choice(4, n_rows, p=[0.9, 0.05, 0.04, 0.01])]
    amount_txt = pd.Series(amount).map(lambda x: f"{x:,.2f}".replace(",", " ").replace(".", ","))
    visits = pd.DataFrame(
        {
            "Код пацієнта": pd.Series(pid).map(lambda i: f"P{i:07d}"),
            "Дата прийому": pd.Series(date).dt.strftime("%d.%m.%Y %H:%M"),
            "Сума, грн": amount_txt,
            "Статус": status,
            "Лікар": np.array(["Коваленко О. В.", "Мельник І. П.", "Шевчук Т. А."])[pid % 3],
        }
    )
    path = folder / "visits.csv"
    visits.to_csv(path, sep=";", index=False, encoding="utf-8-sig")
    params = folder / "bench.yaml"
    params.write_text(
        f"""clinic: {{name: bench, as_of: 2026-10-31}}
sources:
  - system: mis
    table: visits
    path: {path}
    encoding: utf-8-sig
    delimiter: ";"
    decimal: ","
    date_format: "%d.%m.%Y %H:%M"
    columns: {{patient_id: "Код пацієнта", date: "Дата прийому", amount: "Сума, грн",
              status: "Статус", doctor: "Лікар"}}
    values:
      status: {{"Виконано": completed, "Не з'явився": no_show, "Скасовано": cancelled,
               "Повернення": refund}}
""",
        encoding="utf-8",
    )
    return params


# Peak memory of the stage's own process: VmHWM restarts at exec, unlike ru_maxrss, which
# Linux carries over from the (large) parent process.
PEAK = r"""
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

STAGE = (
    PEAK
    + r"""
import json, sys, time
from clinic_analysis.params import load_params
from clinic_analysis.load import load_clinic
from clinic_analysis.audit import compute_audit
params = load_params(sys.argv[1])
t = time.perf_counter()
data = load_clinic(params)
t_load = time.perf_counter() - t
t = time.perf_counter()
audit = compute_audit(params, data)
t_compute = time.perf_counter() - t
print(json.dumps({"load_s": t_load, "compute_s": t_compute, "peak_mb": peak_mb(),
                  "patients": audit.metrics["base"]["patients"]}))
"""
)


MODEL_STAGE = (
    PEAK
    + r"""
import json, sys, time
import pandas as pd
from clinic_analysis.clv import BGNBD, GammaGamma, rfm
days = pd.read_parquet(sys.argv[1])
as_of = pd.Timestamp(sys.argv[2])
t = time.perf_counter()
s = rfm(days, as_of)
t_rfm = time.perf_counter() - t
t = time.perf_counter()
bg = BGNBD().fit(s)
t_bg = time.perf_counter() - t
t = time.perf_counter()
gg = GammaGamma().fit(s)
t_gg = time.perf_counter() - t
print(json.dumps({"rfm_s": t_rfm, "bgnbd_s": t_bg, "gg_s": t_gg, "rows": bg.rows_,
                  "params": bg.params_, "peak_mb": peak_mb()}))
"""
)


def write_visit_days(folder: Path, n_patients: int, seed: int = 2) -> tuple[Path, int]:
    """Visit days of a synthetic clinic whose visits follow BG/NBD (about 5 per patient)."""
    from clinic_analysis.demo import simulate_bgnbd

    rng = np.random.default_rng(seed)
    span = 5 * 365
    start = rng.integers(0, span - 30, n_patients)
    T = (span - start).astype(float)
    sim = simulate_bgnbd(n_patients, 1.4, 120.0, 0.8, 3.0, T, rng, keep_times=True)
    lens = sim["frequency"].to_numpy() + 1
    offsets = np.concatenate([np.concatenate(([0.0], np.asarray(t, float))) for t in sim["times"]])
    pid = np.repeat(np.arange(n_patients), lens)
    day0 = pd.Timestamp("2021-11-01")
    days = pd.DataFrame(
        {
            "patient_id": pid,
            "day": day0 + pd.to_timedelta(np.repeat(start, lens) + np.floor(offsets), unit="D"),
            "amount": rng.gamma(3.0, 1.0 / np.repeat(rng.gamma(4.0, 1 / 2400.0, n_patients), lens)),
        }
    ).drop_duplicates(["patient_id", "day"])
    path = folder / "days.parquet"
    days.to_parquet(path, index=False)
    return path, len(days)


def bench_models(sizes: list[int]) -> None:
    print(
        f"\n{'patients':>12} {'visit days':>11} {'rfm s':>7} {'BG/NBD s':>9} {'GG s':>6}"
        f" {'fit rows':>9} {'peak MB':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            folder = Path(tmp) / f"m{n}"
            folder.mkdir()
            path, n_days = write_visit_days(folder, n)
            out = subprocess.run(
                [sys.executable, "-c", MODEL_STAGE, str(path), "2026-10-31"],
                capture_output=True,
                text=True,
            )
            if out.returncode:
                print(out.stderr, file=sys.stderr)
                sys.exit(out.returncode)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{n:>12,} {n_days:>11,} {r['rfm_s']:>7.2f} {r['bgnbd_s']:>9.2f}"
                f" {r['gg_s']:>6.2f} {r['rows']:>9,} {r['peak_mb']:>8.0f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--model-sizes", default="10000,100000,1000000")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'visit rows':>12} {'csv MB':>8} {'load s':>8} {'compute s':>10} {'peak MB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            folder = Path(tmp) / str(n)
            folder.mkdir()
            params = write_clinic(folder, n)
            mb = (folder / "visits.csv").stat().st_size / 1e6
            out = subprocess.run(
                [sys.executable, "-c", STAGE, str(params)], capture_output=True, text=True
            )
            if out.returncode:
                print(out.stderr, file=sys.stderr)
                sys.exit(out.returncode)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{n:>12,} {mb:>8.1f} {r['load_s']:>8.2f} {r['compute_s']:>10.2f}"
                f" {r['peak_mb']:>9.0f}"
            )
    bench_models([int(s) for s in args.model_sizes.split(",")])


if __name__ == "__main__":
    main()
