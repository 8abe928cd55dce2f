"""Words and numbers of the annual review, in the review's language.

Every word comes from the message tables (``catalog/messages.yaml`` and ``catalog/review.yaml``)
through :func:`t`; every number is formatted here, once, so that the headline band, the tables,
the key findings and the workbook write a value the same way: shares in per cent with one
decimal, hours with one decimal, scores with two, counts with thousands separators.
"""

from __future__ import annotations

import math

import pandas as pd

from evaluation import catalog


def t(key: str, lang: str, **kw) -> str:
    """The message ``key`` in ``lang`` with its ``{placeholders}`` filled in."""
    text = catalog.message(key, lang)
    return text.format(**kw) if kw else text


def bilingual(key: str) -> str:
    """``english / 中文`` (a workbook header read by both audiences)."""
    en, zh = catalog.message(key, "en"), catalog.message(key, "zh")
    return en if en == zh else f"{en} / {zh}"


def unit_of(indicator: str | None) -> str:
    """The catalogue unit of ``indicator`` (``share``, ``hours``, ``score``, ...); ``other`` if unknown."""
    if not indicator:
        return "other"
    try:
        return catalog.get(indicator).unit
    except KeyError:
        return "other"


def missing(value) -> bool:
    """True for ``None``, NaN and pandas' missing values."""
    if value is None or isinstance(value, str):
        return value is None
    try:
        return bool(pd.isna(value)) or (isinstance(value, float) and math.isnan(value))
    except (TypeError, ValueError):
        return False


def fmt_value(indicator: str | None, value, lang: str = "en", change: bool = False, unit: str | None = None) -> str:
    """A value as a reader wants it: shares in per cent, scores with 2 decimals, counts with separators.

    With ``change=True`` the value is a difference: signed, shares in percentage points. A text
    value (the disclosure mark) is returned as it is; a missing one is a dash.
    """
    if isinstance(value, str):
        return value
    if missing(value):
        return "–"
    unit = unit or unit_of(indicator)
    v = float(value)
    if change:
        if unit == "share":
            return f"{100 * v:+.1f} pp" if lang == "en" else f"{100 * v:+.1f}个百分点"
        if unit in ("count", "yuan"):
            return f"{v:+,.0f}"
        if unit == "hours":
            return f"{v:+,.1f} h" if lang == "en" else f"{v:+,.1f}小时"
        return f"{v:+,.2f}" if unit == "score" else f"{v:+,.1f}"
    if unit == "share":
        return f"{100 * v:.1f}%"
    if unit == "score":
        return f"{v:.2f}"
    if unit in ("count", "yuan"):
        return f"{v:,.0f}"
    if unit in ("hours", "per_1000", "per_10k", "per_100hh", "hours_per_capita"):
        return f"{v:,.1f}"
    if unit == "p":
        return f"{v:.3f}"
    return f"{v:.3g}"


def fmt_interval(indicator: str | None, low, high, lang: str = "en", change: bool = False,
                 unit: str | None = None) -> str:
    """``12.3–15.6`` (the bounds as :func:`fmt_value` writes them); empty without bounds."""
    if missing(low) and missing(high):
        return ""
    lo = fmt_value(indicator, low, lang, change, unit) if not missing(low) else "–"
    hi = fmt_value(indicator, high, lang, change, unit) if not missing(high) else t("rv_open_bound", lang)
    return f"{lo} {t('rv_to', lang)} {hi}"


def fmt_estimate(indicator: str | None, value, low=None, high=None, lang: str = "en", change: bool = False,
                 unit: str | None = None) -> str:
    """``24.9 (95% CI 18.3 to 37.6)``, or the value alone when it has no interval."""
    v = fmt_value(indicator, value, lang, change, unit)
    ci = fmt_interval(indicator, low, high, lang, change, unit)
    return f"{v} ({t('rv_ci95', lang)} {ci})" if ci and not isinstance(value, str) else v


def join(items: list[str], lang: str) -> str:
    """``a, b and c`` / ``a、b和c``."""
    items = [i for i in items if i]
    if not items:
        return t("rv_none", lang)
    if len(items) == 1:
        return items[0]
    if lang == "zh":
        return "、".join(items[:-1]) + "和" + items[-1]
    return ", ".join(items[:-1]) + " and " + items[-1]
