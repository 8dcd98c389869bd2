"""Errors that winnow reports to users (the CLI turns them into exit code 1, no traceback)."""

from __future__ import annotations


class WinnowError(Exception):
    """Base class: a problem the user can fix (bad input, bad recipe, bad output folder)."""


class InputError(WinnowError):
    """A bad input file or record, located by file, line (or row) and field."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.row = row
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [
            part
            for part in (
                self.source,
                f"line {self.line}" if self.line is not None else None,
                f"row {self.row}" if self.row is not None else None,
                f"field '{self.field}'" if self.field is not None else None,
            )
            if part
        ]
        return f"{', '.join(where)}: {self.message}" if where else self.message


class RecipeError(WinnowError):
    """An invalid recipe: unknown key, value out of range, unknown stage."""


class RunFolderError(WinnowError):
    """The output folder cannot take this run (another run's outputs, a foreign folder)."""


class AccountingError(WinnowError):
    """input != kept + removed + quarantined: a document went missing; the run does not succeed."""
