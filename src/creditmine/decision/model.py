"""The decision engine: scores, decides, limits and explains a batch of applications.

`DecisionEngine` is what the registered decision model runs (`creditmine.decision.loader` builds it
from the model's data files once the deployment gate has let the exact files through).

Output, one row per input row (see `OUTPUT_COLUMNS`): application_id, pd (12-month probability of
default), score (points, higher is safer), grade (1 = best), decision (approve / refer / decline),
credit_limit_cny (yuan), term_months, reason_1_en..reason_4_en, reason_1_zh..reason_4_zh and
error ("" when the row was decided automatically, else why it was referred).
"""

import contextlib
import contextvars
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from threadpoolctl import ThreadpoolController

from creditmine.config import ProductParams
from creditmine.decision.inputs import InputSpec, validate_applications
from creditmine.decision.policy import REFER, apply_policy
from creditmine.decision.rows import ParsedRows

TOP_REASONS = 4
REASON_COLUMNS = (
    *(f"reason_{i}_en" for i in range(1, TOP_REASONS + 1)),
    *(f"reason_{i}_zh" for i in range(1, TOP_REASONS + 1)),
)
OUTPUT_COLUMNS = (
    "application_id", "pd", "score", "grade", "decision", "credit_limit_cny", "term_months",
    *REASON_COLUMNS, "error",
)
#: Batches up to this many rows are decided on one thread (see DecisionEngine.decide).
SINGLE_THREAD_ROWS = 64
#: The data files of a decision model (see creditmine.decision.package), in its data folder.
DATA_FILES = {
    "credit_model": "credit_model.skops", "models_meta": "models.json", "catalog": "catalog.json",
    "policy": "policy.json", "master_scale": "master_scale.csv", "config": "config.json",
}

# Set only while creditmine.decision.package logs a model: MLflow then loads the new, not yet
# registered model in this process to check its input example, and the gate has nothing to check.
_LOGGING_RUN_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("_LOGGING_RUN_ID", default=None)


class DecisionEngine:
    """Validation, PD, score, grade, reasons and policy for a batch of application rows.

    Parameters
    ----------
    credit_model : a fitted creditmine CreditModel (the product's primary model).
    reason_coder : a fitted `creditmine.explain.reasons.ReasonCoder` for `credit_model`.
    product : the product's ProductParams (scope and policy).
    catalog : the FeatureSpec list of the feature table.
    """

    def __init__(self, credit_model, reason_coder, product: ProductParams, catalog: list) -> None:
        self.credit_model = credit_model
        self.reason_coder = reason_coder
        self.product = product
        self.catalog = catalog
        self._master_scale = credit_model.master_scale_
        self._gbm_fast_path = getattr(reason_coder, "kind_", None) == "gbm" and all(
            hasattr(credit_model, a) for a in ("estimator_", "calibrator_", "model_features_", "categories_")
        )
        # created now that scikit-learn's OpenMP runtime is loaded, so that it can be limited
        self._threadpools = ThreadpoolController()
        self._category_codes = {
            name: {label: float(code) for code, label in enumerate(labels)}
            for name, labels in getattr(credit_model, "categories_", {}).items()
        }
        features = tuple(str(name) for name in credit_model.feature_names_in_)
        kinds = {spec.name: spec.kind for spec in catalog}
        self.input_spec = InputSpec(
            feature_names=features,
            categorical_features=frozenset(n for n in features if kinds.get(n) == "categorical"),
            application_products=tuple(product.application_products),
            policy=product.policy,
            feature_sources={spec.name: spec.source for spec in catalog},
        )

    @classmethod
    def from_folder(cls, folder) -> "DecisionEngine":
        """Build the engine from a decision model's data folder (the files of `DATA_FILES`)."""
        from creditmine.artifacts import load_model_file, read_catalog_file
        from creditmine.explain.reasons import ReasonCoder

        folder = Path(folder)
        missing = [name for name in DATA_FILES.values() if not (folder / name).is_file()]
        if missing:
            raise ValueError(f"{folder}: the decision model lacks {missing}")
        credit_model = load_model_file(folder / DATA_FILES["credit_model"])
        catalog = read_catalog_file(folder / DATA_FILES["catalog"])
        product = ProductParams.model_validate(json.loads((folder / DATA_FILES["policy"]).read_text(encoding="utf-8")))
        reason_coder = ReasonCoder(catalog, top_k=TOP_REASONS).fit(credit_model)
        engine = cls(credit_model, reason_coder, product, catalog)
        engine.warm_up()
        return engine

    def decide(self, rows: pd.DataFrame) -> pd.DataFrame:
        """One output row per application row, in the same order (columns `OUTPUT_COLUMNS`)."""
        return pd.DataFrame(self.decide_columns(rows), columns=list(OUTPUT_COLUMNS))

    def decide_columns(self, rows: "pd.DataFrame | ParsedRows") -> dict[str, np.ndarray]:
        """What `decide` gives, as one array per output column (keys in `OUTPUT_COLUMNS` order),
        without building a DataFrame; `rows` may be parsed JSON (`ParsedRows`), as served."""
        if len(rows) <= SINGLE_THREAD_ROWS:
            # a few rows: thread start-up and spinning cost more than they save, the more so on
            # a busy machine, so OpenMP (scikit-learn) and numba (SHAP) run on this thread only
            with self._threadpools.limit(limits=1, user_api="openmp"), _numba_threads(1):
                return self._decide(rows)
        return self._decide(rows)

    def _decide(self, rows) -> dict[str, np.ndarray]:
        from creditmine.models.master_scale import assign_grades

        n = len(rows)
        batch = validate_applications(rows, self.input_spec)
        valid = batch.valid
        out = {
            "application_id": batch.columns["application_id"],
            "pd": np.full(n, np.nan),
            "score": np.full(n, np.nan),
            "grade": np.zeros(n, dtype=np.int64),
            "decision": np.full(n, REFER, dtype=object),
            "credit_limit_cny": np.full(n, np.nan),
            "term_months": np.zeros(n, dtype=np.int64),
            **{column: np.full(n, "", dtype=object) for column in REASON_COLUMNS},
            "error": batch.errors.copy(),
        }
        if valid.any():
            good = np.flatnonzero(valid)
            columns = batch.columns if len(good) == n else {k: v[good] for k, v in batch.columns.items()}
            pds, contributions = self.pd_and_contributions(columns)
            model = self.credit_model
            grades = assign_grades(pds, self._master_scale)
            out["pd"][good] = pds
            out["score"][good] = model.points_scale.points(pds)
            out["grade"][good] = grades
            outcome = apply_policy(columns, grades, self.product.policy)
            out["decision"][good] = outcome.decision
            out["credit_limit_cny"][good] = outcome.credit_limit_cny
            out["term_months"][good] = outcome.term_months
            out["error"][good] = outcome.note
            for column, texts in self.reason_texts(contributions, columns).items():
                out[column][good] = texts
        return out

    def pd_and_contributions(self, columns: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated PD and the reason coder's per-feature log-odds contributions of valid rows.

        For the gradient boosting, the booster's input matrix is built once from the validated
        columns (exactly what `GbmModel.transform_features` gives, without a DataFrame per
        request), and its exact TreeSHAP values give the raw log-odds too: base value plus their
        sum equals the booster's output (additivity, checked when the model loads), so the trees
        are walked once. Other models take the feature DataFrame.
        """
        model, coder = self.credit_model, self.reason_coder
        if self._gbm_fast_path:
            contributions = coder.explainer_.shap_values(self.booster_matrix(columns))
            log_odds = coder.explainer_.expected_value_ + contributions.sum(axis=1)
            return model.calibrator_.transform(log_odds), contributions
        X = pd.DataFrame({name: columns[name] for name in self.input_spec.feature_names})
        return model.predict_pd(X), coder.contributions(X)

    def booster_matrix(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """The gradient boosting's input matrix (rows, model_features_) from validated columns:
        numbers as they are, categories as the model's codes (blank or unseen: NaN)."""
        model = self.credit_model
        n = len(columns["application_id"])
        matrix = np.empty((n, len(model.model_features_)), dtype=float)
        for j, name in enumerate(model.model_features_):
            codes = self._category_codes.get(name)
            if codes is None:
                matrix[:, j] = columns[name]
            else:
                matrix[:, j] = [codes.get(value, np.nan) for value in columns[name]]
        return matrix

    def reason_texts(self, contributions: np.ndarray, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The top reasons of each row as reason_1_en .. reason_4_zh.

        Reasons are the reason groups that push the PD up most (`creditmine.explain.reasons`),
        stated with the applicant's value; a row with fewer such groups has blank trailing reasons.
        """
        coder = self.reason_coder
        n = contributions.shape[0]
        texts = {column: np.full(n, "", dtype=object) for column in REASON_COLUMNS}
        row, feature, _ = coder.rank(contributions)
        if len(row) == 0:
            return texts
        values = np.empty(len(row), dtype=object)
        for f in np.unique(feature):
            at = np.flatnonzero(feature == f)
            column = columns.get(coder.value_columns_[f])
            values[at] = None if column is None else column[row[at]]
        en, zh = coder.statements(feature, values)
        # rank within each row: rows come grouped, strongest reason first
        first = np.r_[True, row[1:] != row[:-1]]
        rank = np.arange(len(row)) - np.maximum.accumulate(np.where(first, np.arange(len(row)), 0))
        for r in range(TOP_REASONS):
            at = rank == r
            texts[f"reason_{r + 1}_en"][row[at]] = en[at]
            texts[f"reason_{r + 1}_zh"][row[at]] = zh[at]
        return texts

    def warm_up(self) -> None:
        """Decide one blank application, so the first request does not pay for compiling the
        SHAP kernel, and check that the fast path gives the model's own PD.

        Raises
        ------
        ValueError : the PD of the fast path differs from `predict_pd` (beyond 1e-9).
        """
        features = self.input_spec.feature_names
        columns = {name: np.array([None], dtype=object) if name in self.input_spec.categorical_features
                   else np.array([np.nan]) for name in features}
        columns["application_id"] = np.array(["warm-up"], dtype=object)
        pds, contributions = self.pd_and_contributions(columns)
        self.reason_texts(contributions, columns)
        expected = self.credit_model.predict_pd(pd.DataFrame({name: columns[name] for name in features}))
        if not np.allclose(pds, expected, rtol=0, atol=1e-9):
            raise ValueError(
                f"decision model: PD {pds[0]!r} from the SHAP values differs from the model's {expected[0]!r}"
            )


@contextlib.contextmanager
def logging_model(run_id: str) -> Iterator[None]:
    """While a model of `run_id` is being logged (and MLflow test-loads it here), skip the gate."""
    token = _LOGGING_RUN_ID.set(run_id)
    try:
        yield
    finally:
        _LOGGING_RUN_ID.reset(token)


@contextlib.contextmanager
def _numba_threads(count: int) -> Iterator[None]:
    """numba's thread count for this thread, restored afterwards (a no-op without numba)."""
    try:
        import numba
    except ImportError:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(min(count, previous))
    try:
        yield
    finally:
        numba.set_num_threads(previous)
