"""The scorecard's exports: plain data (JSON) and SQL, both reproducing `ScorecardModel.credit_score`
exactly (whole points per bin; the same binning rules as `binning.bin_index`)."""

from __future__ import annotations

import json

from sklearn.utils.validation import check_is_fitted

from creditmine.models.binning import quote, sql_float, sql_string

__all__ = ["scorecard_dict", "scorecard_json", "scorecard_sql", "scorecard_sql_expression"]


def scorecard_dict(self) -> dict:
    """The scorecard as plain data: features, bins and whole points; see `score_json`."""
    check_is_fitted(self, "points_")
    features = []
    for f in self.features_:
        spec = self.bins_[f]
        n_regular = len(spec["labels"]) - 2
        points = self.points_[f]
        features.append({
            "name": f, "kind": spec["kind"], "splits": spec["splits"], "groups": spec["groups"],
            "special_values": spec["special_values"], "bin_labels": spec["labels"][:n_regular],
            "points": points[:n_regular], "special_points": points[-2], "missing_points": points[-1],
            "unseen_category": "missing",
        })
        if spec.get("other_group") is not None:
            features[-1].update({"unseen_category": "other", "other_points": points[spec["other_group"]]})
    return {
        "format": "creditmine-scorecard/1",
        "scale": {k: self.points_scale.get_params()[k] for k in ("base_points", "base_odds", "pdo")},
        "rules": "numeric bins are [lower, upper) between splits; missing -> missing_points; "
                 "special_values -> special_points; unseen categories -> other_points when given, "
                 "else missing_points; "
                 "score = sum of points",
        "features": features,
    }


def scorecard_json(self, indent: int | None = 2) -> str:
    """`to_dict` as JSON text; `score_json` on it reproduces `credit_score` exactly."""
    return json.dumps(scorecard_dict(self), indent=indent, ensure_ascii=False)


def scorecard_sql(self, table: str, score_column: str = "credit_score") -> str:
    """`SELECT *, <sum of CASE expressions> AS score_column FROM table` reproducing `credit_score`.

    Missing values must be SQL NULL (as they are when read from Parquet); categorical columns
    are compared as strings.
    """
    return f"SELECT *, {scorecard_sql_expression(self)} AS {quote(score_column)} FROM {table}"


def scorecard_sql_expression(self) -> str:
    """The score as a SQL expression: one `CASE` per feature, added up."""
    cases = []
    for feature in scorecard_dict(self)["features"]:
        column = quote(feature["name"])
        parts = [f"WHEN {column} IS NULL THEN {feature['missing_points']}"]
        if feature["kind"] == "numeric":
            if feature["special_values"]:
                codes = ", ".join(sql_float(v) for v in feature["special_values"])
                parts.append(f"WHEN {column} IN ({codes}) THEN {feature['special_points']}")
            for split, points in zip(feature["splits"], feature["points"]):
                parts.append(f"WHEN {column} < {sql_float(split)} THEN {points}")
            parts.append(f"ELSE {feature['points'][-1]}")
        else:
            for group, points in zip(feature["groups"], feature["points"]):
                values = ", ".join(sql_string(v) for v in group)
                parts.append(f"WHEN CAST({column} AS VARCHAR) IN ({values}) THEN {points}")
            parts.append(f"ELSE {feature.get('other_points', feature['missing_points'])}")
        cases.append("(CASE " + " ".join(parts) + " END)")
    return "(" + " + ".join(cases) + ")"
