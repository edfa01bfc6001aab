"""User-facing errors: one type per kind of mistake, all under :class:`ClinicAuditError`.

The CLI catches :class:`ClinicAuditError` once and prints ``str(err)`` as one actionable
message (``--debug`` shows the traceback). Every message names the file and, where it
helps, the column, the row and what to do about it.
"""

from __future__ import annotations

from pathlib import Path


class ClinicAuditError(Exception):
    """Base class of every error a user can act on."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ParamsError(ClinicAuditError):
    """The params file is missing, is not YAML, or does not match the schema."""


class SourceFileError(ClinicAuditError):
    """A source file is missing, unreadable, or of an unknown format."""

    def __init__(self, path: Path | str, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"{path}: {problem}", hint=hint)
        self.path = Path(path)

    @classmethod
    def folder(cls, path: Path | str, what: str = "") -> SourceFileError:
        """A ``path:`` in params that names a folder instead of an export file."""
        where = f" ({what})" if what else ""
        return cls(
            path,
            f"is a folder, not a file{where}",
            hint="set `path:` in params to the export file itself, e.g. a .csv or .xlsx in it",
        )


class ColumnError(ClinicAuditError):
    """A column mapped in params is absent from the file."""

    def __init__(
        self, path: Path | str, column: str, available: list[str], *, role: str | None = None
    ) -> None:
        role_txt = f" (mapped as '{role}')" if role else ""
        shown = ", ".join(f"'{c}'" for c in available[:40])
        super().__init__(
            f"{path}: column '{column}'{role_txt} is not in the file",
            hint=f"the file has the columns: {shown}; fix the name under `columns:` in params",
        )
        self.path, self.column, self.available = Path(path), column, available


class DataValueError(ClinicAuditError):
    """Values in a column cannot be understood (e.g. an unmapped status)."""

    def __init__(self, path: Path | str, column: str, problem: str, *, hint: str | None = None):
        super().__init__(f"{path}: column '{column}': {problem}", hint=hint)
        self.path, self.column = Path(path), column


class ReportError(ClinicAuditError):
    """Rendering the report failed (a notebook cell raised, or the PDF could not be written)."""
