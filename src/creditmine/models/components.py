"""The parts every credit model shares, as components: the points scale and the rating master scale.

The third shared part, the PD calibration, is `creditmine.models.calibration.LogOddsCalibrator`.
Each takes its constructor defaults from its params section (`creditmine.config.models`), so the
params and the estimators have one set of defaults.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from creditmine.config.models import MasterScaleParams, ScaleParams
from creditmine.models.master_scale import assign_grades, fit_master_scale, merged_scale

__all__ = ["MasterScale", "PointsScale", "records"]

_SCALE = ScaleParams()
_MASTER = MasterScaleParams()


class PointsScale(BaseEstimator):
    """Credit score points from a PD: base_points at good:bad odds base_odds; pdo points double the odds.

    Stateless (nothing to fit): points = base_points + pdo / ln 2 * (ln(odds) - ln(base_odds)),
    odds = (1 - PD) / PD, so higher points are safer.
    """

    def __init__(self, base_points: float = _SCALE.base_points, base_odds: float = _SCALE.base_odds,
                 pdo: float = _SCALE.pdo):
        self.base_points = base_points
        self.base_odds = base_odds
        self.pdo = pdo

    @classmethod
    def from_params(cls, params: ScaleParams) -> "PointsScale":
        return cls(**params.model_dump())

    @property
    def factor(self) -> float:
        """Points per unit of log-odds: pdo / ln 2."""
        return self.pdo / np.log(2.0)

    @property
    def offset(self) -> float:
        """Points at log-odds 0 (even odds): base_points - factor * ln(base_odds)."""
        return self.base_points - self.factor * np.log(self.base_odds)

    def points(self, pd_) -> np.ndarray:
        """Points of each 12-month PD in (0, 1); higher is safer."""
        pd_ = np.asarray(pd_, dtype=float)
        return self.base_points + self.factor * (np.log((1.0 - pd_) / pd_) - np.log(self.base_odds))


class MasterScale(BaseEstimator):
    """The rating master scale: grades 1 (best) .. G with PD boundaries from development PDs.

    Parameters
    ----------
    grades : number of grades G.
    method : "quantile" (equal shares of development applications) or "geometric" (log-spaced
        boundaries between the 1st and 99th percentile of development PDs).

    Attributes
    ----------
    records_ : the fitted table as plain lists (skops saves it without trusting pandas).
    note_ : which grades were merged (tied or empty on the development PDs), or "".
    """

    def __init__(self, grades: int = _MASTER.grades, method: str = _MASTER.method):
        self.grades = grades
        self.method = method

    @classmethod
    def from_params(cls, params: MasterScaleParams) -> "MasterScale":
        return cls(**params.model_dump())

    def fit(self, pd_, y=None) -> "MasterScale":
        """Boundaries from development PDs `pd_`; `y` (1 = default) gives observed rates per grade.

        Tied or empty grades are merged (`note_` says so, "" when every grade was kept).
        """
        table = fit_master_scale(pd_, y, self.grades, self.method)
        self.records_ = records(table)
        self.note_ = "" if len(table) == self.grades else merged_scale(
            table["pd_lower"].to_numpy()[1:], np.asarray(pd_, dtype=float), y, self.grades)[1]
        return self

    @property
    def table_(self) -> pd.DataFrame:
        """grade, pd_lower, pd_upper, pd_mean, count, share, defaults, observed_default_rate."""
        check_is_fitted(self, "records_")
        return pd.DataFrame(self.records_)

    def grade(self, pd_) -> np.ndarray:
        """Grade (int, 1 = best .. G) of each PD."""
        return assign_grades(pd_, self.table_)


def records(frame: pd.DataFrame) -> dict[str, list]:
    """A DataFrame as a dict of plain Python lists (float, int, str, None)."""
    out = {}
    for column in frame.columns:
        values = frame[column].tolist()
        out[str(column)] = [v.item() if hasattr(v, "item") else v for v in values]
    return out
