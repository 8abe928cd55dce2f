"""The package's errors: one base class, a few kinds, each a sentence a person can act on.

Every problem the user can fix (a file, a table, a cell, a missing input, personal data, an
option) is an :class:`EvaluationError`. The command line prints such an error as one sentence on
stderr and exits with :data:`EXIT_USER`; anything else is a bug in the package, printed as
``internal error: ...`` with :data:`EXIT_INTERNAL` (``--debug`` shows the traceback).

===========================  ======================================================================
:class:`DataError`           a value, row, column or table of the user's data is wrong; carries the
                             file, table, file row, column, value and a hint
:class:`LoadError`           a file cannot be read as a table (format, encoding, layout)
:class:`MissingInputError`   a table, column or file the computation needs is absent
:class:`PersonalDataError`   a column holds personal identifiers and the user did not ask to hash them
:class:`OptionError`         an argument or option is out of range or inconsistent
:class:`ValidationFailed`    the data failed validation; nothing is computed or published
===========================  ======================================================================

The classes derive from :class:`ValueError` (and :class:`KeyError` for missing inputs, so that a
:class:`~evaluation.dataset.Dataset` is a proper mapping) so that code written against the standard
exceptions keeps working.
"""

from __future__ import annotations

#: exit code of a command that stopped on a problem of the input or the options
EXIT_USER = 1
#: exit code of a command that stopped on a bug of the package
EXIT_INTERNAL = 3


class EvaluationError(Exception):
    """A problem the user can fix; ``str(error)`` is one sentence saying what and how."""


class DataError(EvaluationError, ValueError):
    """A problem in the user's data, located as precisely as it is known.

    Parameters
    ----------
    message
        What is wrong, in plain words (the location is added in front).
    file, table, row, column, value
        Where: the file name, the table of the data model, the row number a user sees in the
        file (header and title rows counted), the column and the offending value.
    hint
        How to fix it (appended after a semicolon).
    """

    def __init__(self, message: str, *, file: str | None = None, table: str | None = None, row: int | None = None,
                 column: str | None = None, value: object = None, hint: str | None = None):
        self.message, self.file, self.table, self.row = message, file, table, row
        self.column, self.value, self.hint = column, value, hint
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.table and (not self.file or self.table not in str(self.file)):
            where.append(f"table {self.table}")
        if self.row is not None:
            where.append(f"row {self.row:,}")
        if self.column:
            where.append(f"column {self.column}")
        text = (", ".join(where) + ": " if where else "") + self.message
        return f"{text}; {self.hint}" if self.hint else text


class LoadError(DataError):
    """A file cannot be read as a table (format, encoding, layout)."""


class MissingInputError(EvaluationError, KeyError, ValueError):
    """A table, column or file that the computation needs is not there.

    Parameters
    ----------
    message
        What is missing and what needs it.
    table, column
        The missing table (and column), when the input is a table of the data model.
    """

    def __init__(self, message: str, *, table: str | None = None, column: str | None = None):
        self.table, self.column = table, column
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class PersonalDataError(DataError):
    """A column looks like a personal identifier and the caller did not ask to hash it.

    ``kind`` says what it looks like (a name by its header, phone numbers by their content, ...).
    """

    def __init__(self, message: str, *, file: str | None = None, table: str | None = None,
                 column: str | None = None, kind: str = "", hint: str | None = None):
        self.kind = kind
        super().__init__(message, file=file, table=table, column=column, hint=hint)

    @property
    def path(self) -> str | None:
        """The file (kept under this name for callers of the first version)."""
        return self.file


class OptionError(EvaluationError, ValueError):
    """An argument or command-line option is out of its range or inconsistent with another."""


class ValidationFailed(EvaluationError):
    """The data failed validation; ``report`` holds every problem (grouped)."""

    def __init__(self, message: str, report=None):
        self.report = report
        super().__init__(message)
