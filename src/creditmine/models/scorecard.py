"""The WoE scorecard: optimal monotone binning (optbinning), WoE logistic regression, PDO points.

Binning is learnt with optbinning, then kept as plain split points, category groups and per-bin
tables, and every application is binned by one function (`_bin_index`) at fit time, at predict
time, and by the JSON scorer; the SQL export writes the same rules as `CASE` expressions. Rules
that make fit and predict agree:

- numeric bins are [lower, upper) intervals between the split points;
- a missing value (NaN, None) falls in the feature's Missing bin, a value listed in
  `special_values` in its Special bin; an empty Missing or Special bin has WoE 0 (average risk);
- a category not seen in training is scored as missing (as "(other)" in a grouped feature).

WoE is ln(good share / bad share) of a bin (higher is safer), so the coefficient on a feature of
known risk direction must be negative (the sign check); exports are in `scorecard_export`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted
from tqdm import tqdm

from creditmine.config.models import CardinalityGuard, ScorecardParams
from creditmine.models.base import CreditModel, grouping, shared_components
from creditmine.models.binning import (
    OTHER, bin_index, categories, g_test_pvalue, group_rare, holdout_iv, is_numeric, labels, numeric, vif, woe_iv,
)
from creditmine.models.calibration import LogOddsCalibrator
from creditmine.models.components import MasterScale, PointsScale, records
from creditmine.models.scorecard_export import (
    scorecard_dict, scorecard_json, scorecard_sql, scorecard_sql_expression,
)
from creditmine.models.selection import choose_c, select_features

_P = ScorecardParams()
_MAX_CATEGORIES = CardinalityGuard().max_categories
_TRENDS = {1: "ascending", -1: "descending"}
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
"""Inverse L2 strengths `regularization_c: cv` chooses among."""


class ScorecardModel(CreditModel):
    """Monotone WoE scorecard with points scaled by PDO and base odds.

    Parameters
    ----------
    categorical_features : names of categorical columns (non-numeric columns are categorical anyway).
    risk_directions : feature -> +1 (higher is riskier), -1 (safer), 0 (unknown); sets the
        binning's monotone trend (ascending / descending default rate, else `unknown_trend`).
    special_values : numeric codes with their own bin.
    min_bin_share, max_bins, unknown_trend, binning_time_limit : optbinning settings.
    woe_smoothing : pseudo-count added to the goods and the bads of a non-empty bin that lacks
        either (so its WoE stays finite).
    min_iv, max_iv_pvalue, max_correlation, max_features : selection (see `selection.select_features`).
    regularization_c : inverse L2 strength of the logistic regression, or "cv" (chosen by 5-fold
        cross-validated AUC on the training rows among `C_GRID`, once, on the first selection).
    drop_wrong_sign : drop features of known risk direction whose coefficient is not negative, and
        refit (with an unknown direction a reversed coefficient is a conditional effect, and is kept).
    max_categories : a categorical feature with more training categories keeps its
        `max_categories - 1` most frequent ones and groups the rest (and unseen ones) as "(other)";
        None keeps every category (stage 02 sets it from `models.guards.cardinality`).
    scale : the points scale (`PointsScale`); points per bin are whole numbers, so sums are exact
        everywhere.
    calibration : the PD calibration (an unfitted `LogOddsCalibrator`), fitted on the validation data.
    grading : the rating master scale (an unfitted `MasterScale`), fitted on the development PDs.
    random_state : seed.
    progress : show a tqdm bar over the features while binning.

    Attributes
    ----------
    bins_ : feature -> binning (kind, splits or groups, labels, count, bads, woe, iv).
    iv_ : feature -> information value (nats) on the training data, every candidate.
    holdout_iv_ : feature -> the training bins' WoE and IV formula on the holdout (for a feature of
        unknown direction it chooses between a monotone and a peak or valley binning).
    selection_reasons_ : feature -> why it was kept or dropped.
    features_ : selected features, in the order of `coef_`.
    coef_, intercept_ : logistic regression of default on the WoE of `features_`.
    regularization_c_ : the inverse L2 strength used.
    points_ : feature -> whole points per bin (regular bins, then Special, then Missing).
    coefficients_ : DataFrame feature, coefficient, std_error, z, p_value, vif, iv, sign_ok.
    """

    def __init__(
        self,
        categorical_features=(),
        risk_directions=None,
        special_values=_P.special_values,
        min_bin_share: float = _P.min_bin_share,
        max_bins: int = _P.max_bins,
        unknown_trend: str = _P.unknown_trend,
        binning_time_limit: float = _P.binning_time_limit,
        woe_smoothing: float = _P.woe_smoothing,
        min_iv: float = _P.min_iv,
        max_iv_pvalue: float = _P.max_iv_pvalue,
        max_correlation: float = _P.max_correlation,
        max_features: int = _P.max_features,
        regularization_c: float | str = _P.regularization_c,
        drop_wrong_sign: bool = _P.drop_wrong_sign,
        max_categories: int | None = _MAX_CATEGORIES,
        scale: PointsScale | None = None,
        calibration: LogOddsCalibrator | None = None,
        grading: MasterScale | None = None,
        random_state: int = 0,
        progress: bool = False,
    ):
        self.categorical_features = categorical_features
        self.risk_directions = risk_directions
        self.special_values = special_values
        self.min_bin_share = min_bin_share
        self.max_bins = max_bins
        self.unknown_trend = unknown_trend
        self.binning_time_limit = binning_time_limit
        self.woe_smoothing = woe_smoothing
        self.min_iv = min_iv
        self.max_iv_pvalue = max_iv_pvalue
        self.max_correlation = max_correlation
        self.max_features = max_features
        self.regularization_c = regularization_c
        self.drop_wrong_sign = drop_wrong_sign
        self.max_categories = max_categories
        self.scale = scale
        self.calibration = calibration
        self.grading = grading
        self.random_state = random_state
        self.progress = progress

    @classmethod
    def from_params(cls, models, categorical_features=(), risk_directions=None, seed: int = 0, progress=False):
        """A scorecard configured from the `models` params section (`ModelParams`)."""
        return cls(
            categorical_features=tuple(categorical_features), risk_directions=dict(risk_directions or {}),
            **models.scorecard.model_dump(), **shared_components(models), max_categories=grouping(models),
            random_state=seed, progress=progress,
        )

    # -- fitting --------------------------------------------------------------------------------
    def _fit_raw(self, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame, y_val: np.ndarray,
                 w: np.ndarray | None = None, w_val: np.ndarray | None = None) -> None:
        directions = dict(self.risk_directions or {})
        categorical = set(self.categorical_features) | {c for c in X.columns if not is_numeric(X[c])}
        self.bins_ = {}
        for feature in tqdm(list(X.columns), desc="scorecard binning", disable=not self.progress, leave=False):
            kind = "categorical" if feature in categorical else "numeric"
            direction = directions.get(feature, 0)
            self.bins_[feature] = self._bin_feature(feature, kind, X[feature], y, direction, w)
            if kind == "numeric" and int(direction) == 0 and self.unknown_trend != "auto_asc_desc":
                self._choose_trend(feature, X[feature], y, w, X_val[feature], y_val, w_val)
        self.iv_ = {f: b["iv"] for f, b in self.bins_.items()}
        self.holdout_iv_ = {f: holdout_iv(self.bins_[f], X_val[f], y_val, w_val, f) for f in X.columns}
        woe = pd.DataFrame({f: self._woe(f, X[f]) for f in X.columns}, index=X.index)
        self.iv_pvalue_ = {f: g_test_pvalue(b["count"], b["bads"]) for f, b in self.bins_.items()}
        selected, reasons = select_features(woe, self.iv_, self.min_iv, self.max_correlation, self.max_features,
                                            self.iv_pvalue_, self.max_iv_pvalue)
        if not selected:
            raise ValueError(
                f"no feature passes the scorecard selection (min_iv {self.min_iv}); best IV "
                f"{max(self.iv_.values(), default=0):.4f} among {len(self.iv_)} candidates"
            )
        self.regularization_c_ = self._choose_c(woe[selected].to_numpy(), y, w)
        while True:
            lr = LogisticRegression(C=self.regularization_c_, max_iter=2000).fit(
                woe[selected].to_numpy(), y, sample_weight=w)
            coef = lr.coef_[0]
            # a feature of known risk direction must not score against its WoE; without a known direction
            # a reversed coefficient is a conditional effect (Simpson's paradox), kept
            wrong = [f for f, c in zip(selected, coef) if c >= 0 and int(directions.get(f, 0)) != 0]
            if not (wrong and self.drop_wrong_sign and len(wrong) < len(selected)):
                break
            for f, c in zip(selected, coef):
                if f in wrong:
                    reasons[f] = f"dropped: coefficient {c:+.4f} is not negative (contradicts its WoE), refitted"
            selected = [f for f in selected if f not in wrong]
        self.features_ = list(selected)
        self.coef_ = np.asarray(coef, dtype=float)
        self.intercept_ = float(lr.intercept_[0])
        self.selection_reasons_ = reasons
        self.coefficients_records_ = records(self._coefficient_table(woe[selected].to_numpy(), y, directions, w))
        self.points_ = self._points()

    def _bin_feature(self, feature: str, kind: str, column: pd.Series, y: np.ndarray, direction: int,
                     w: np.ndarray | None = None, trend: str | None = None) -> dict:
        from optbinning import OptimalBinning  # heavy import, needed only while fitting

        options = dict(
            name=str(feature), dtype="categorical" if kind == "categorical" else "numerical",
            min_bin_size=self.min_bin_share, max_n_bins=self.max_bins, time_limit=self.binning_time_limit,
        )
        if kind == "numeric":
            values = numeric(column, feature)
            specials = list(self.special_values)
            options.update(
                monotonic_trend=trend or _TRENDS.get(int(direction), self.unknown_trend),
                special_codes=specials or None,
            )
            spec = {"kind": "numeric", "splits": [], "groups": [], "special_values": [float(s) for s in specials],
                    "trend": options["monotonic_trend"]}
        else:
            values, kept = group_rare(categories(column), self.max_categories)
            spec = {"kind": "categorical", "splits": [], "groups": [], "special_values": []}
            if kept is not None:
                spec["kept"] = kept
        binning = OptimalBinning(**options)
        usable = values if kind == "numeric" else np.where(pd.isna(values), np.nan, values.astype(object))
        try:
            binning.fit(usable, y, sample_weight=w)
            fitted = binning.status in ("OPTIMAL", "FEASIBLE")
        except (ValueError, RuntimeError):  # e.g. a constant column: one bin, no split
            fitted = False
        if fitted and kind == "numeric":
            spec["splits"] = [float(s) for s in np.asarray(binning.splits, dtype=float)]
        elif fitted:
            spec["groups"] = [sorted(str(c) for c in group) for group in binning.splits]
        if kind == "categorical" and not spec["groups"]:
            present = sorted({v for v in values if v is not None})
            spec["groups"] = [present] if present else []
        if "kept" in spec:
            spec["other_group"] = next((i for i, g in enumerate(spec["groups"]) if OTHER in g), None)
        spec["labels"] = labels(spec)
        index = bin_index(spec, column, feature)
        n_bins = len(spec["labels"])
        weight = np.ones(len(y)) if w is None else w
        count = np.bincount(index, weights=weight, minlength=n_bins)
        bads = np.bincount(index, weights=weight * y, minlength=n_bins)
        # weighted counts (reject inference) stay fractional; plain counts are whole numbers
        spec["count"] = [int(c) if w is None else float(c) for c in np.round(count, 9)]
        spec["bads"] = [int(b) if w is None else float(b) for c, b in zip(count, np.round(bads, 9))]
        spec["woe"], spec["iv"] = woe_iv(count, bads, self.woe_smoothing)
        return spec

    def _choose_c(self, W: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> float:
        """`regularization_c`, or with "cv" the grid value of highest cross-validated AUC."""
        if self.regularization_c != "cv":
            return float(self.regularization_c)
        return choose_c(W, y, w, C_GRID, self.random_state)

    def _choose_trend(self, feature, column, y, w, column_val, y_val, w_val) -> None:
        """Unknown risk direction: the data choose between a monotone binning and `unknown_trend`'s
        (peak or valley too), by the IV each earns on the holdout with its training WoE; so a U-shaped
        feature keeps its shape and noise does not earn a shape fitted to the training rows."""
        shaped = self.bins_[feature]
        monotone = self._bin_feature(feature, "numeric", column, y, 0, w, trend="auto_asc_desc")
        if holdout_iv(monotone, column_val, y_val, w_val, feature) >= \
                holdout_iv(shaped, column_val, y_val, w_val, feature):
            self.bins_[feature] = monotone

    def _refit_raw(self, X: pd.DataFrame, y: np.ndarray, w: np.ndarray | None) -> None:
        """The selected features binned again and the regression refitted on all rows (no reselection)."""
        directions = dict(self.risk_directions or {})
        for feature in self.features_:
            kind, trend = self.bins_[feature]["kind"], self.bins_[feature].get("trend")
            self.bins_[feature] = self._bin_feature(feature, kind, X[feature], y, directions.get(feature, 0), w, trend)
            self.iv_[feature] = self.bins_[feature]["iv"]
        woe = np.column_stack([self._woe(f, X[f]) for f in self.features_])
        lr = LogisticRegression(C=self.regularization_c_, max_iter=2000).fit(woe, y, sample_weight=w)
        self.coef_ = np.asarray(lr.coef_[0], dtype=float)
        self.intercept_ = float(lr.intercept_[0])
        self.coefficients_records_ = records(self._coefficient_table(woe, y, directions, w))
        self.points_ = self._points()

    def _coefficient_table(self, W: np.ndarray, y: np.ndarray, directions: dict,
                           w: np.ndarray | None = None) -> pd.DataFrame:
        design = np.column_stack([np.ones(len(W)), W])
        p = 1.0 / (1.0 + np.exp(-(design @ np.concatenate([[self.intercept_], self.coef_]))))
        weight = np.ones(len(W)) if w is None else w
        information = design.T @ (design * (weight * p * (1 - p))[:, None])
        covariance = np.linalg.pinv(information)
        se = np.sqrt(np.clip(np.diag(covariance), 0, None))
        estimates = np.concatenate([[self.intercept_], self.coef_])
        z = estimates / np.where(se > 0, se, np.nan)
        table = pd.DataFrame({
            "feature": ["(intercept)", *self.features_],
            "coefficient": estimates,
            "std_error": se,
            "z": z,
            "p_value": 2 * stats.norm.sf(np.abs(z)),
            "vif": [np.nan, *vif(W)],
            "iv": [np.nan, *(self.iv_[f] for f in self.features_)],
            "risk_direction": [0, *(int(directions.get(f, 0)) for f in self.features_)],
            "expected_sign": ["", *("-" if int(directions.get(f, 0)) else "" for f in self.features_)],
        })
        table["sign_ok"] = [True, *(c < 0 or int(directions.get(f, 0)) == 0 for f, c in zip(self.features_, self.coef_))]
        table["points_monotone_ok"] = [True, *(self._points_follow_direction(f, directions.get(f, 0)) for f in self.features_)]
        return table

    def _points_follow_direction(self, feature: str, direction: int) -> bool:
        """Numeric features with a known risk direction: regular-bin WoE moves against the risk."""
        spec = self.bins_[feature]
        if spec["kind"] != "numeric" or direction == 0:
            return True
        woe = np.asarray(spec["woe"][: len(spec["splits"]) + 1])
        steps = np.diff(woe)
        return bool(np.all(steps <= 1e-12) if direction > 0 else np.all(steps >= -1e-12))

    def _points(self) -> dict[str, list[int]]:
        scale = self.points_scale
        factor, offset = scale.factor, scale.offset
        share = (offset - factor * self.intercept_) / len(self.features_)
        return {
            f: [int(v) for v in np.round(-factor * b * np.asarray(self.bins_[f]["woe"]) + share)]
            for f, b in zip(self.features_, self.coef_)
        }

    # -- scoring --------------------------------------------------------------------------------
    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Raw (uncalibrated) log-odds of default: intercept_ + sum of coefficient x WoE."""
        return self.intercept_ + self.contributions(X).sum(axis=1).to_numpy()

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature log-odds contributions (coefficient x WoE); row sum + intercept_ = decision_function."""
        check_is_fitted(self, "coef_")
        X = self._check_columns(X)
        return pd.DataFrame(
            {f: b * self._woe(f, X[f]) for f, b in zip(self.features_, self.coef_)}, index=X.index
        )

    def feature_points(self, X: pd.DataFrame) -> pd.DataFrame:
        """Whole points per feature (higher is safer); the row sum is `credit_score`."""
        check_is_fitted(self, "points_")
        X = self._check_columns(X)
        return pd.DataFrame(
            {f: np.asarray(self.points_[f])[bin_index(self.bins_[f], X[f], f)] for f in self.features_},
            index=X.index,
        )

    def credit_score(self, X: pd.DataFrame) -> np.ndarray:
        """Score = sum of the application's points (whole numbers, as float64)."""
        return self.feature_points(X).sum(axis=1).to_numpy(dtype=float)

    def woe_transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """WoE of every selected feature."""
        check_is_fitted(self, "coef_")
        X = self._check_columns(X)
        return pd.DataFrame({f: self._woe(f, X[f]) for f in self.features_}, index=X.index)

    # -- tables and exports ---------------------------------------------------------------------
    @property
    def scorecard_table_(self) -> pd.DataFrame:
        """One row per bin of each selected feature: feature, bin, woe, points, count, bad_rate, ..."""
        check_is_fitted(self, "points_")
        rows = []
        for f, coefficient in zip(self.features_, self.coef_):
            spec = self.bins_[f]
            for i, label in enumerate(spec["labels"]):
                count, bads = spec["count"][i], spec["bads"][i]
                rows.append({
                    "feature": f, "bin": label, "bin_index": i, "woe": spec["woe"][i],
                    "points": self.points_[f][i], "count": count,
                    "share": count / max(sum(spec["count"]), 1),
                    "bad_rate": bads / count if count else np.nan, "coefficient": coefficient,
                    "iv": spec["iv"],
                })
        return pd.DataFrame(rows)

    @property
    def coefficients_(self) -> pd.DataFrame:
        check_is_fitted(self, "coefficients_records_")
        return pd.DataFrame(self.coefficients_records_)

    @property
    def bin_edges_(self) -> dict[str, list]:
        """Feature -> split points (numeric) or category groups (categorical), every candidate."""
        check_is_fitted(self, "bins_")
        return {f: (b["splits"] if b["kind"] == "numeric" else b["groups"]) for f, b in self.bins_.items()}

    def to_dict(self) -> dict:
        """The scorecard as plain data: features, bins and whole points; see `score_json`."""
        return scorecard_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        """`to_dict` as JSON text; `score_json` on it reproduces `credit_score` exactly."""
        return scorecard_json(self, indent)

    def to_sql(self, table: str, score_column: str = "credit_score") -> str:
        """`SELECT *, <sum of CASE expressions> AS score_column FROM table` reproducing `credit_score`.

        Missing values must be SQL NULL (as they are when read from Parquet); categorical columns
        are compared as strings.
        """
        return scorecard_sql(self, table, score_column)

    def to_sql_expression(self) -> str:
        """The score as a SQL expression: one `CASE` per feature, added up."""
        return scorecard_sql_expression(self)

    # -- helpers --------------------------------------------------------------------------------
    def _woe(self, feature: str, column: pd.Series) -> np.ndarray:
        spec = self.bins_[feature]
        return np.asarray(spec["woe"], dtype=float)[bin_index(spec, column, feature)]

    def _check_columns(self, X: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X must be a pandas DataFrame with the columns {self.features_}; got {type(X).__name__}")
        missing = [f for f in self.features_ if f not in X.columns]
        if missing:
            raise ValueError(f"X lacks the scorecard's feature columns {missing}")
        return X
