"""Excel templates for an evaluator to fill in a district's registers.

:func:`write_templates` writes one workbook per table of :data:`evaluation.schema.TABLES`:

* sheet 1 (named after the table) has one header row; each header cell holds the Chinese
  label and the canonical name on two lines (``受理时间`` / ``created_at``), which
  :func:`evaluation.loaders.read_table` maps back to the canonical column. Required columns are
  shaded; each header has a cell comment with the column's description, type and allowed
  values; enumerated columns carry a drop-down list (data validation) for 2,000 rows.
* sheet 2, ``说明 notes``, lists every column: name, Chinese label, type, required, allowed
  values, minimum, maximum and description.

Regenerate the committed copies with ``python -m evaluation.dataset.templates data/templates``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from evaluation.dataset import schema
from evaluation.io import atomic_path

#: Data rows that carry the drop-down lists of enumerated columns.
VALIDATION_ROWS = 2000

#: Excel refuses inline drop-down lists longer than this (characters, quotes included);
#: longer lists are kept on a hidden ``lists`` sheet.
INLINE_LIST_LIMIT = 255

_TYPE_ZH = {
    "string": "文本 text",
    "integer": "整数 integer",
    "number": "数值 number",
    "boolean": "是/否 true/false",
    "date": "日期 date (YYYY-MM-DD)",
    "datetime": "日期时间 date-time (YYYY-MM-DD HH:MM)",
    "year": "年份 year",
}


def header_text(field: schema.Field) -> str:
    """The bilingual header cell of a column: Chinese label, newline, canonical name."""
    return f"{field.label_zh}\n{field.name}"


def _note(field: schema.Field) -> str:
    lines = [f"{field.name}: {_TYPE_ZH.get(field.type, field.type)}"]
    lines.append("必填 required" if field.required else "选填 optional")
    if field.description:
        lines.append(field.description)
    if field.enum:
        lines.append("可选值 allowed: " + ", ".join(field.enum))
    if field.minimum is not None:
        lines.append(f"最小值 minimum {field.minimum:g}")
    if field.maximum is not None:
        lines.append(f"最大值 maximum {field.maximum:g}")
    return "\n".join(lines)


def _workbook(ts: schema.TableSchema):

    wb = Workbook()
    ws = wb.active
    ws.title = ts.name[:31]
    required_fill = PatternFill("solid", fgColor="FDE9D9")
    optional_fill = PatternFill("solid", fgColor="EAF1DD")
    lists = None
    for i, f in enumerate(ts.fields, start=1):
        cell = ws.cell(row=1, column=i, value=header_text(f))
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.fill = required_fill if f.required else optional_fill
        comment = Comment(_note(f), "governance-evaluation")
        comment.width, comment.height = 320, 160
        cell.comment = comment
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = max(14, len(f.name) + 4, 2 * len(f.label_zh) + 2)
        if f.enum:
            quoted = '"' + ",".join(f.enum) + '"'
            if len(quoted) <= INLINE_LIST_LIMIT:
                formula = quoted
            else:  # Excel limits inline lists to 255 characters: keep long lists on a sheet
                if lists is None:
                    lists = wb.create_sheet("lists")
                    lists.sheet_state = "hidden"
                col = lists.max_column + 1 if lists.max_row > 1 or lists["A1"].value else 1
                for r, v in enumerate(f.enum, start=1):
                    lists.cell(row=r, column=col, value=v)
                cl = get_column_letter(col)
                formula = f"lists!${cl}$1:${cl}${len(f.enum)}"
            dv = DataValidation(type="list", formula1=formula, allow_blank=not f.required)
            dv.error = f"{f.name}: " + ", ".join(f.enum)
            dv.errorTitle = "不在可选值中 not an allowed value"
            dv.add(f"{letter}2:{letter}{VALIDATION_ROWS + 1}")
            ws.add_data_validation(dv)
    ws.row_dimensions[1].height = 36
    ws.freeze_panes = "A2"
    notes = wb.create_sheet("说明 notes", index=1)
    head = ["column", "中文 label", "type 类型", "required 必填", "allowed 可选值", "minimum", "maximum", "description 说明"]
    notes.append(head)
    for c in notes[1]:
        c.font = Font(bold=True)
    notes.append([f"{ts.name} ({ts.title_zh})", "", "", "", "", "", "", ts.description])
    for f in ts.fields:
        notes.append([
            f.name, f.label_zh, _TYPE_ZH.get(f.type, f.type), "yes 是" if f.required else "no 否",
            ", ".join(f.enum) if f.enum else "", f.minimum, f.maximum, f.description,
        ])
    if ts.primary_key:
        notes.append(["primary key 主键", "", "", "", "", "", "", " + ".join(ts.primary_key)])
    for fk in ts.foreign_keys:
        filt = f" where {fk.reference_filter[0]} in {', '.join(fk.reference_filter[1])}" if fk.reference_filter else ""
        notes.append(["foreign key 外键", "", "", "", "", "", "",
                      f"{'+'.join(fk.fields)} -> {fk.reference_table}.{'+'.join(fk.reference_fields)}{filt}"])
    if ts.open_columns:
        notes.append(["(more columns)", "", "", "", "", "", "",
                      "add one column per survey item listed in the survey_codebook table"])
    for letter, width in zip("ABCDEFGH", (22, 22, 26, 12, 40, 10, 10, 70)):
        notes.column_dimensions[letter].width = width
    return wb


def write_templates(folder: str | os.PathLike[str], tables: list[str] | None = None) -> list[Path]:
    """Write ``<table>.xlsx`` for every table of the data model into ``folder``, atomically.

    Parameters
    ----------
    folder
        Destination folder (created if needed).
    tables
        Only these tables (default: all, in the data model's order).

    Returns
    -------
    list of Path
        The files written, in the data model's table order.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in tables or schema.TABLE_ORDER:
        target = out / f"{name}.xlsx"
        with atomic_path(target) as tmp:
            _workbook(schema.table_schema(name)).save(tmp)
        written.append(target)
    return written


if __name__ == "__main__":  # pragma: no cover - regenerating the committed templates
    for p in write_templates(sys.argv[1] if len(sys.argv) > 1 else "data/templates"):
        print(p)
