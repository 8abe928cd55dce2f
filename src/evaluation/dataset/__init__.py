"""The data model and reading a district's own files.

===================  ===========================================================================
``schema``           the tables, columns, types, enumerations and keys (the single source)
``headers``          a user's header cell -> the canonical column name (aliases as data)
``privacy``          the one detector of personal identifiers, for inputs and outputs
``read``             :func:`read_table`: one CSV, XLSX or Parquet file, raw values, file rows
``cells``            typing raw cells by the schema (every unparsable cell is kept for the report)
``load``             :class:`Dataset` / :func:`load_dataset`: a folder of tables, read when needed
``validate``         :func:`validate_dataset`: every problem at once, with file rows
``units``            :class:`UnitTree`: the hierarchy, the district, population roll-ups
``templates``        bilingual XLSX templates of every table
===================  ===========================================================================
"""

from evaluation.dataset import schema
from evaluation.dataset.cells import parse_column, type_table
from evaluation.dataset.checks import PROBLEM_COLUMNS
from evaluation.dataset.load import Dataset, likert_items, load_dataset, parse_cutoff, table_files
from evaluation.dataset.read import READABLE, read_table
from evaluation.dataset.units import LEVELS, UnitTree
from evaluation.dataset.validate import ValidationReport, require_valid, validate, validate_dataset, validate_table

__all__ = [
    "Dataset", "LEVELS", "PROBLEM_COLUMNS", "READABLE", "UnitTree", "ValidationReport", "likert_items",
    "load_dataset", "parse_column", "parse_cutoff", "read_table", "require_valid", "schema", "table_files",
    "type_table", "validate", "validate_dataset", "validate_table",
]
