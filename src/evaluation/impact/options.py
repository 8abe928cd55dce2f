"""The settings of a staggered difference-in-differences, as two small value objects.

:class:`DidOptions` holds what changes the numbers (estimator, comparison group, covariates,
inference); :class:`DidLabels` holds what only changes the words and ids of the output. Both are
frozen dataclasses that check themselves when built, as :class:`evaluation.index.IndexSpec` does,
so that a wrong option fails before any data are read.

The defaults are those of R ``did`` (``att_gt``): doubly robust estimation (Sant'Anna and Zhao
2020), never-treated units as the comparison group, no anticipation, a "varying" base period.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from evaluation.errors import OptionError

#: aggregations of ATT(g,t) (R ``aggte(type=)``)
AGGREGATIONS = ("simple", "dynamic", "group", "calendar")
#: estimators of each 2x2 comparison (R ``att_gt(est_method=)``), with their names in words
EST_METHODS = {"dr": "doubly robust", "reg": "outcome regression", "ipw": "inverse probability weighting"}
#: comparison groups (R ``att_gt(control_group=)``)
CONTROL_GROUPS = {"nevertreated": "never-treated", "notyettreated": "not-yet-treated"}
#: base periods of the pre-adoption estimates (R ``att_gt(base_period=)``)
BASE_PERIODS = {"varying": "the period before each pre-adoption period",
                "universal": "the last period before adoption for every estimate"}
#: seed of the multiplier bootstrap, so that the same call gives the same bands
DEFAULT_SEED = 20201225


@dataclass(frozen=True)
class DidOptions:
    """What a staggered DiD estimates and how it infers: R ``att_gt``'s arguments.

    Attributes
    ----------
    est_method
        ``"dr"`` (doubly robust, R's default), ``"reg"`` (outcome regression) or ``"ipw"``. Without
        covariates the three give the same estimates.
    control_group
        ``"nevertreated"`` (default) or ``"notyettreated"``.
    covariates
        Time-invariant covariates for conditional parallel trends (``xformla = ~ a + b``).
    cluster
        Cluster variable coarser than the unit (e.g. ``community_id``); standard errors then come
        from the multiplier bootstrap. Default: the unit, analytical standard errors.
    anticipation
        Periods before adoption in which the outcome may already react (the base period moves back).
    base_period
        ``"varying"`` (default) or ``"universal"`` (every estimate against the period before
        adoption; the event study then has a 0 at ``e = -1``, as honest DiD needs).
    weights
        Column of sampling weights, or ``None``.
    panel
        ``True`` for a panel, ``False`` for repeated cross-sections.
    alpha
        Level of the intervals (0.05: 95 %).
    biters
        Multiplier-bootstrap draws for the simultaneous bands (and clustered standard errors).
    seed
        Seed of that bootstrap.
    aggregations
        Which of :data:`AGGREGATIONS` to compute.
    with_twfe
        Also fit the naive two-way fixed effects regression, to show the difference.
    """

    est_method: str = "dr"
    control_group: str = "nevertreated"
    covariates: tuple[str, ...] = ()
    cluster: str | None = None
    anticipation: int = 0
    base_period: str = "varying"
    weights: str | None = None
    panel: bool = True
    alpha: float = 0.05
    biters: int = 999
    seed: int = DEFAULT_SEED
    aggregations: tuple[str, ...] = AGGREGATIONS
    with_twfe: bool = True

    def __post_init__(self):
        for name, value, allowed in (("est_method", self.est_method, EST_METHODS),
                                     ("control_group", self.control_group, CONTROL_GROUPS),
                                     ("base_period", self.base_period, BASE_PERIODS)):
            if value not in allowed:
                raise OptionError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        object.__setattr__(self, "covariates", tuple(self.covariates or ()))
        object.__setattr__(self, "aggregations", tuple(self.aggregations))
        unknown = set(self.aggregations) - set(AGGREGATIONS)
        if unknown:
            raise OptionError(f"unknown aggregation(s) {', '.join(sorted(unknown))}; use {', '.join(AGGREGATIONS)}")
        if not 0 < self.alpha < 1:
            raise OptionError(f"alpha must be between 0 and 1, not {self.alpha}")
        if int(self.anticipation) != self.anticipation or self.anticipation < 0:
            raise OptionError(f"anticipation must be a whole number of periods >= 0, not {self.anticipation}")
        if int(self.biters) < 1:
            raise OptionError(f"biters must be at least 1, not {self.biters}")

    def replace(self, **changes) -> DidOptions:
        """A copy with ``changes`` (checked like a new object)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise OptionError(f"unknown DiD option(s) {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def words(self) -> str:
        """``"doubly robust, never-treated controls"``: the design in words."""
        return f"{EST_METHODS[self.est_method]}, {CONTROL_GROUPS[self.control_group]} controls"


@dataclass(frozen=True)
class DidLabels:
    """How a DiD result names itself: ids of the tidy table and words of its text.

    Attributes
    ----------
    period_label
        Turns a period code into a label (``"2020Q3"``); default ``str``.
    indicator_prefix
        Prefix of the indicator ids (``imp.red_property.mean_resolution_hours``).
    unit_id, level
        The ``unit_id`` and ``level`` columns of the tidy table (the district the estimate is for).
    policy_words, unit_word, period_word, outcome_words
        Words of the plain-language paragraph: "red property", "compound", "quarter",
        "the mean resolution time (hours)".
    """

    period_label: Callable[[int], str] = str
    indicator_prefix: str = "imp.policy"
    unit_id: str = "all"
    level: str = "district"
    policy_words: str = "the policy"
    unit_word: str = "unit"
    period_word: str = "period"
    outcome_words: str = ""

    def replace(self, **changes) -> DidLabels:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)
