"""`make bench`: whole audits of synthetic clinics of growing size, time and memory per stage.

For each size it generates a clinic with the demo's own generator (`clinic_analysis.examples.demo`:
visits, patient cards and plans shaped like a real MIS export), then renders its whole audit
(HTML + PDF) with a fresh cache, exactly as `python -m clinic_analysis report --clinic
<params> --fresh` does (the bench calls `build_report`, the function behind that command,
so that it can read the memory of each stage). Per stage it prints the wall time and the
peak resident memory of the process that ran it:

- load + compute, data files, HTML, PDF run in the report process; its high-water mark
  (VmHWM) is reset between stages (`/proc/self/clear_refs`), so each stage's peak is its own
  (a stage never reads below what the process already held when it began);
- the notebook runs in its own kernel process: its peak is `ru_maxrss` of the children.

It writes `docs/bench.md` (a table and `docs/bench.png`, time against patients, log-log,
with the slope of each stage). It is a benchmark, not a test: `make test` times nothing.

    python scripts/bench.py                       # 10k and 100k patients (about 1.5 min)
    python scripts/bench.py --sizes 10000,100000,1000000   # adds 1M (several minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
STAGES = (
    "compute",
    "data files",
    "notebook",
    "kernel",
    "html",
    "pdf",
    "total",
    "re-render",
    "edit re-render",
)

# Runs in a fresh process: one whole audit, its stages timed and their peak memory read.
AUDIT = r"""
import json, resource, sys, time

def hwm_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

def reset_hwm():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass

peaks = {}
marks = [("compute", "compute:"), ("notebook", "notebook"), ("html", "html rendered"),
         ("pdf", "pdf rendered")]

def log(line):
    print(line, file=sys.stderr, flush=True)
    for stage, start in marks:
        if line.strip().startswith(start) and stage not in peaks:
            peaks[stage] = hwm_mb()
            reset_hwm()

from clinic_analysis.report.pipeline import build_report
reset_hwm()
result = build_report(sys.argv[1], formats=["html", "pdf"], log=log, fresh=True)
kernel = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"timings": result.timings, "peaks": peaks, "kernel_mb": kernel,
                  "max_mb": hwm_mb()}))
"""


# Runs in a fresh process: the audit re-rendered with a notebook an analyst edited (a note
# added to its last cell): the audit and the data files cached, the notebook executed again,
# HTML and PDF made again; imports included, as `make report` would.
EDITED = r"""
import sys
from pathlib import Path
from clinic_analysis.report.execute import start_kernel_early
kernel = start_kernel_early(Path(sys.argv[2]), False)  # first, as the command line does
try:
    from clinic_analysis.report.pipeline import build_report
    build_report(sys.argv[1], notebook=Path(sys.argv[2]), log=lambda s: None, kernel=kernel)
finally:
    if kernel is not None:
        kernel.close()
"""
NOTE = (
    "\nfrom clinic_analysis.report.present import callout\n"
    'display(callout("Analyst\'s note: these figures were checked with the clinic."))'
)


def edited_notebook(folder: Path) -> Path:
    """A copy of notebooks/audit.ipynb whose last cell shows one more note."""
    nb = json.loads((ROOT / "notebooks" / "audit.ipynb").read_text(encoding="utf-8"))
    cell = [c for c in nb["cells"] if c["cell_type"] == "code"][-1]
    cell["source"] = "".join(cell["source"]) + NOTE
    path = folder / "audit-edited.ipynb"
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    return path


def write_params(folder: Path, n_patients: int) -> Path:
    """params/demo.yaml for a clinic of ``n_patients`` cards whose sources live in ``folder``."""
    params = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text(encoding="utf-8"))
    params["clinic"]["name"] = f"Bench clinic ({n_patients:,} cards)"
    params["demo"]["patients"] = n_patients
    params["report"].pop("branding", None)
    for source in params["sources"]:
        source["path"] = str(folder / "data" / Path(source["path"]).name)
    path = folder / f"bench-{n_patients}.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run(cmd: list[str], env: dict) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode:
        sys.stderr.write(out.stderr)
        sys.exit(out.returncode)
    return out.stdout


def bench_one(n: int, tmp: Path) -> dict:
    folder = tmp / str(n)
    folder.mkdir()
    params = write_params(folder, n)
    env = {
        **os.environ,
        "CLINIC_AUDIT_CACHE": str(folder / "cache"),
        "CLINIC_AUDIT_REPORTS": str(folder / "reports"),
    }
    t = time.perf_counter()
    gen = (
        "import sys; from clinic_analysis.params import load_params;"
        "from clinic_analysis.report.pipeline import ensure_demo_data;"
        "ensure_demo_data(load_params(sys.argv[1]))"
    )
    run([sys.executable, "-c", gen, str(params)], env)
    t_gen = time.perf_counter() - t
    with open(folder / "data" / "visits.csv", encoding="utf-8-sig") as fh:
        visits = sum(1 for _ in fh) - 1
    r = json.loads(run([sys.executable, "-c", AUDIT, str(params)], env).strip().splitlines()[-1])
    tm, pk = r["timings"], r["peaks"]
    times = {s: tm.get(s) for s in STAGES if s != "kernel"}
    times["compute"] = tm["compute"] + tm.get("load params", 0.0)
    # `make report` again, nothing changed: the whole command (imports included), audit cached
    t = time.perf_counter()
    run([sys.executable, "-m", "clinic_analysis", "report", "--clinic", str(params)], env)
    times["re-render"] = time.perf_counter() - t
    # an analyst edited a cell: the notebook runs again, the audit and data files are reused
    edited = edited_notebook(folder)
    t = time.perf_counter()
    run([sys.executable, "-c", EDITED, str(params), str(edited)], env)
    times["edit re-render"] = time.perf_counter() - t
    peaks = {
        "compute": pk.get("compute"),
        "notebook": pk.get("notebook"),  # report process while the kernel runs (data files)
        "kernel": r["kernel_mb"],
        "html": pk.get("html"),
        "pdf": pk.get("pdf"),
    }
    return {
        "patients": n,
        "visits": visits,
        "generate_s": t_gen,
        "times": times,
        "peaks": peaks,
        # the data files' own writing time, beside the notebook (`data files` is the wait)
        "data_files_meanwhile_s": tm.get("data files, written meanwhile"),
    }


def fmt(x, spec):
    return "–" if x is None else format(x, spec)


def table(rows: list[dict]) -> list[str]:
    head = "| patients | visit rows | " + " | ".join(f"{s} s" for s in STAGES if s != "kernel")
    head += " | " + " | ".join(f"{s} MB" for s in ("compute", "kernel", "html", "pdf")) + " |"
    lines = [head, "|" + "---:|" * (head.count("|") - 1)]
    for r in rows:
        t, p = r["times"], r["peaks"]
        lines.append(
            f"| {r['patients']:,} | {r['visits']:,} | "
            + " | ".join(fmt(t.get(s), ".1f") for s in STAGES if s != "kernel")
            + " | "
            + " | ".join(fmt(p[s], ".0f") for s in ("compute", "kernel", "html", "pdf"))
            + " |"
        )
    return lines


def slopes(rows: list[dict]) -> dict[str, float]:
    """Log-log slope of each stage's time against patients (1 = linear)."""
    if len(rows) < 2:
        return {}
    x = np.log([r["patients"] for r in rows])
    out = {}
    for s in STAGES:
        if s == "kernel":
            continue
        y = [r["times"][s] for r in rows]
        if all(v for v in y):
            out[s] = float(np.polyfit(x, np.log(y), 1)[0])
    return out


def chart(rows: list[dict], path: Path, before: list[dict] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    n = [r["patients"] for r in rows]
    sl = slopes(rows)
    for s in STAGES:
        if s == "kernel":
            continue
        y = [r["times"][s] for r in rows]
        label = f"{s} (slope {sl[s]:.2f})" if s in sl else s
        ax.plot(n, y, marker="o", lw=2.5 if s == "total" else 1.2, label=label)
    if before:
        y = [r["times"]["total"] for r in before]
        ax.plot([r["patients"] for r in before], y, "k--", marker="x", label="total, before")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("patient cards")
    ax.set_ylabel("seconds (2 cores)")
    ax.set_title("Whole audit (HTML + PDF), fresh cache")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_doc(
    rows: list[dict],
    doc: Path,
    command: str,
    before: list[dict] | None,
    before_label: str = "the code before this round of changes",
) -> None:
    png = doc.with_suffix(".png")
    chart(rows, png, before)
    sl = slopes(rows)
    lines = [
        "# Benchmark: whole audits of synthetic clinics",
        "",
        f"Written by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} cores. Each clinic is generated by `clinic_analysis.examples.demo` "
        "(visits, cards, plans) and its whole audit (HTML + PDF) rendered with a fresh cache. "
        "Times in seconds; `compute` = load + identity + every figure and model; "
        "`data files` = metrics.json, patients.parquet, call_lists.xlsx; `notebook` = the "
        "notebook executed by its own kernel (charts included); `re-render` = a second "
        "`python -m clinic_analysis report` with nothing changed (audit, notebook, data files "
        "and PDF reused; imports included); `edit re-render` = the same after an analyst "
        "edited a cell (a note added to the notebook's last cell: the notebook executed again, "
        "HTML and PDF made again, the audit and data files reused); the data files are written "
        "in a thread while the notebook runs, so `data files` is the time the run waits for "
        "them; MB = peak resident memory of the "
        "process running that stage (the kernel is its own process). The 1M size is opt-in: "
        "`python scripts/bench.py --sizes 10000,100000,1000000`.",
        "",
        *table(rows),
        "",
        "Slope of time against patients (log-log; 1 = linear): "
        + ", ".join(f"{s} {v:.2f}" for s, v in sl.items()),
        "",
        f"![time against patients]({png.name})",
        "",
    ]
    if before:
        lines += [
            f"Before (the same bench on {before_label}):",
            "",
            *table(before),
            "",
        ]
    doc.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000", help="patient cards, comma-separated")
    ap.add_argument("--doc", default=str(ROOT / "docs" / "bench.md"))
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--before", help="raw results (--json) of an earlier run to compare")
    ap.add_argument(
        "--before-label",
        default="the code before this round of changes",
        help="what --before was measured on (a commit), for the doc",
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if 1_000_000 not in sizes:
        print("sizes:", args.sizes, "(1M is opt-in: --sizes 10000,100000,1000000)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            r = bench_one(n, Path(tmp))
            rows.append(r)
            t, p = r["times"], r["peaks"]
            print(
                f"{n:>9,} patients, {r['visits']:,} visit rows (generated in "
                f"{r['generate_s']:.0f} s): "
                + ", ".join(
                    f"{s} {t[s]:.1f} s" + (f" / {p[s]:.0f} MB" if p.get(s) else "") for s in t
                )
                + f"; kernel peak {p['kernel']:.0f} MB"
                + f"; data files written beside the notebook in {r['data_files_meanwhile_s'] or 0:.1f} s",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    before = json.loads(Path(args.before).read_text()) if args.before else None
    command = "python scripts/bench.py --sizes " + args.sizes
    write_doc(rows, Path(args.doc), command, before, args.before_label)
    print(f"written {args.doc} and {Path(args.doc).with_suffix('.png')}")


if __name__ == "__main__":
    main()
