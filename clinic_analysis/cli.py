"""Command line: ``python -m clinic_analysis report --clinic demo``.

User errors (:class:`ClinicAuditError`) are printed as one actionable message with a
non-zero exit code; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from clinic_analysis.errors import ClinicAuditError, ReportError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="clinic-audit: render a client-ready audit of a clinic's patient base.",
)

Debug = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]


def _fail(err: Exception, debug: bool) -> None:
    if debug:
        raise err
    typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def report(
    clinic: Annotated[
        str, typer.Option(help="Clinic name (params/<clinic>.yaml) or a path to a params file.")
    ] = "demo",
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default reports/<clinic>/).")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="Comma-separated: html,pdf (default: params).")
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(help="Make the notebook, data files and PDF again even if unchanged."),
    ] = False,
    debug: Debug = False,
) -> None:
    """Render the audit: HTML, PDF, metrics.json, patients.parquet, the executed notebook."""
    from clinic_analysis.report.execute import NOTEBOOK, start_kernel_early

    # the notebook's kernel starts and imports while this process imports the rest
    kernel = start_kernel_early(NOTEBOOK, fresh)
    try:
        from clinic_analysis.report.pipeline import build_report, params_path_for

        formats = [f.strip() for f in fmt.split(",")] if fmt else None
        result = build_report(
            params_path_for(clinic), out_dir=out, formats=formats, fresh=fresh, kernel=kernel
        )
    except ClinicAuditError as err:
        _fail(err, debug)
        return
    except OSError as err:  # a disk problem outside the report and cache folders
        if debug:
            raise
        where = os.fsdecode(err.filename) if err.filename else "a file"
        _fail(ReportError(f"cannot use {where}: {err.strerror or err}"), debug)
        return
    except KeyboardInterrupt:
        typer.secho("stopped: the last report was left as it was", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=130) from None
    finally:
        if kernel is not None:
            kernel.close()  # closed by the run already, unless it stopped before its start
    typer.echo(f"  report written to {result.out_dir}/ in {result.timings['total']:.1f} s:")
    for f in result.files:
        typer.echo(f"    {f.name}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the generated exports.")] = Path(
        "data/demo"
    ),
    patients: Annotated[int, typer.Option(help="Number of patient cards.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20261122,
) -> None:
    """Generate the demo clinic's MIS exports (normally done on first `make report`)."""
    from clinic_analysis.examples.demo import DemoSpec, generate_demo

    t = time.perf_counter()
    truth = generate_demo(out, DemoSpec(n_patients=patients, seed=seed))
    typer.echo(f"demo clinic written to {out}/ in {time.perf_counter() - t:.1f} s")
    for name, path in truth.files.items():
        typer.echo(f"  {name}: {path}")


@app.command()
def init(
    clinic: Annotated[str, typer.Option(help="Name of the new clinic (params/<clinic>.yaml).")],
    files: Annotated[list[Path], typer.Argument(help="Export files: CSV, XLSX or Parquet.")],
    params_dir: Annotated[Path, typer.Option(help="Where params files live.")] = Path("params"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing params file.")] = False,
    debug: Debug = False,
) -> None:
    """Sniff export files and draft params/<clinic>.yaml with every guess commented."""
    from clinic_analysis.ingest.init import check_draft, write_draft

    try:
        out = write_draft(clinic, files, params_dir, force=force)
    except ClinicAuditError as err:
        _fail(err, debug)
        return
    typer.echo(f"draft written to {out}: check the lines marked '# guess' and any FIXME")
    typer.echo("the draft as it is loads:")
    for line in check_draft(out):
        typer.echo(f"  {line}")


def main() -> None:  # console-script entry point
    """Run the command; then leave at once. By then every file is written and closed and the
    kernel stopped: what is left is the interpreter freeing the audit's millions of objects
    one by one, about a second at 100k patients (measured), which nobody waits for."""
    try:
        app()  # click's standalone mode ends with SystemExit, also on success
    except SystemExit as done:
        code = done.code
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)


if __name__ == "__main__":
    sys.exit(main())
