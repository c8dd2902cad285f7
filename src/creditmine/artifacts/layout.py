"""Where every file of a run lives: runs/<run>/<stage>/ and reports/<run>/, one property per file."""

from __future__ import annotations

from pathlib import Path

from creditmine.artifacts.names import EXPLAIN, FEATURES, REGISTER, TRAIN, VALIDATE, Stage

__all__ = ["Layout", "MonitorLayout", "layout", "monitor_layout"]


class Layout:
    """The paths of one run and, for stages 02-05, one product (the "Stage outputs" table).

    Parameters
    ----------
    run_dir : runs/<run>/.
    reports_dir : reports/<run>/.
    product : the product of stages 02-05; None when only stage 01 is needed.
    run_name : for messages.
    """

    def __init__(self, run_dir: Path, reports_dir: Path, product: str | None = None, run_name: str = ""):
        self.run_dir = Path(run_dir)
        self.reports_dir = Path(reports_dir)
        self.product = product
        self.run_name = run_name or self.run_dir.name

    def stage_dir(self, stage: Stage) -> Path:
        """runs/<run>/<stage>/ for stage 01, runs/<run>/<product>/<stage>/ for the others."""
        if not stage.per_product:
            return self.run_dir / stage.name
        if self.product is None:
            raise ValueError(f"{stage.describe()} is per product; name the product")
        return self.run_dir / self.product / stage.name

    def plots(self, stage: Stage) -> Path:
        return self.stage_dir(stage) / "plots"

    def report(self, stage: Stage) -> tuple[Path, Path]:
        """(executed notebook, HTML report) of a stage."""
        folder = self.reports_dir if not stage.per_product else self.reports_dir / str(self.product)
        notebook = folder / stage.notebook
        return notebook, notebook.with_suffix(".html")

    @property
    def index_html(self) -> Path:
        """reports/<run>/index.html: every report of the run with its verdict."""
        return self.reports_dir / "index.html"

    # -- 01 features --------------------------------------------------------------------------
    @property
    def features_table(self) -> Path:
        return self.stage_dir(FEATURES) / "features.parquet"

    @property
    def catalog(self) -> Path:
        return self.stage_dir(FEATURES) / "catalog.json"

    @property
    def data_dictionary(self) -> Path:
        return self.stage_dir(FEATURES) / "data_dictionary.csv"

    @property
    def profile(self) -> Path:
        return self.stage_dir(FEATURES) / "profile.json"

    @property
    def features_cache_key(self) -> Path:
        return self.stage_dir(FEATURES) / "cache_key.json"

    # -- 02 train -----------------------------------------------------------------------------
    def model_file(self, model: str) -> Path:
        return self.stage_dir(TRAIN) / "models" / f"{model}.skops"

    @property
    def models_meta(self) -> Path:
        return self.stage_dir(TRAIN) / "models.json"

    @property
    def scores(self) -> Path:
        return self.stage_dir(TRAIN) / "scores.parquet"

    @property
    def master_scale(self) -> Path:
        return self.stage_dir(TRAIN) / "master_scale.csv"

    @property
    def train_metrics(self) -> Path:
        return self.stage_dir(TRAIN) / "train_metrics.json"

    @property
    def scorecard_table(self) -> Path:
        return self.stage_dir(TRAIN) / "scorecard_table.csv"

    @property
    def scorecard_json(self) -> Path:
        return self.stage_dir(TRAIN) / "scorecard.json"

    @property
    def scorecard_sql(self) -> Path:
        return self.stage_dir(TRAIN) / "scorecard.sql"

    # -- 03 explain ---------------------------------------------------------------------------
    def shap_values(self, model: str) -> Path:
        return self.stage_dir(EXPLAIN) / f"shap_{model}.parquet"

    @property
    def reasons(self) -> Path:
        return self.stage_dir(EXPLAIN) / "reasons.parquet"

    @property
    def explain_summary(self) -> Path:
        return self.stage_dir(EXPLAIN) / "explain.json"

    # -- 04 validate --------------------------------------------------------------------------
    @property
    def validation(self) -> Path:
        return self.stage_dir(VALIDATE) / "validation.json"

    @property
    def model_card_md(self) -> Path:
        return self.stage_dir(VALIDATE) / "model_card.md"

    @property
    def model_card_html(self) -> Path:
        return self.stage_dir(VALIDATE) / "model_card.html"

    @property
    def validation_tables(self) -> Path:
        return self.stage_dir(VALIDATE) / "tables"

    # -- 05 register --------------------------------------------------------------------------
    @property
    def registration(self) -> Path:
        return self.stage_dir(REGISTER) / "registration.json"


def layout(cfg, product: str | None = None) -> Layout:
    """The Layout of a RunConfig's run (and product; checked against the params)."""
    if product is not None:
        cfg.product(product)
    return Layout(cfg.run_dir, cfg.reports_dir, product, cfg.run_name)


class MonitorLayout:
    """The files of one monitoring run (stage 06) of a product's version at one as-of date.

    outputs: `<monitoring.outputs_dir>/<product>/<as_of>/` (monitor.json, plots/, tables/,
    outcomes_rejected.csv); reports: `<monitoring.reports_dir>/<product>/<as_of>.{ipynb,html}` and
    the trend report `<monitoring.reports_dir>/<product>/trend.html`.
    """

    def __init__(self, outputs_root: Path, reports_root: Path, product: str, as_of: str):
        self.product, self.as_of = product, str(as_of)
        self.folder = Path(outputs_root) / product / self.as_of
        self.reports = Path(reports_root) / product

    @property
    def summary(self) -> Path:
        return self.folder / "monitor.json"

    @property
    def plots(self) -> Path:
        return self.folder / "plots"

    @property
    def tables(self) -> Path:
        return self.folder / "tables"

    @property
    def rejected_outcomes(self) -> Path:
        return self.folder / "outcomes_rejected.csv"

    @property
    def report(self) -> tuple[Path, Path]:
        """(executed notebook, HTML report)."""
        notebook = self.reports / f"{self.as_of}.ipynb"
        return notebook, notebook.with_suffix(".html")

    @property
    def trend_report(self) -> Path:
        return self.reports / "trend.html"

    def all_summaries(self) -> list[Path]:
        """monitor.json of every as-of date of the product, oldest first."""
        return sorted(self.folder.parent.glob("*/monitor.json"))


def monitor_layout(cfg, product: str, as_of) -> MonitorLayout:
    """The MonitorLayout of a product's monitoring at `as_of` (a date or YYYY-MM-DD)."""
    cfg.product(product)
    settings = cfg.params.monitoring
    return MonitorLayout(cfg.resolve(settings.outputs_dir), cfg.resolve(settings.reports_dir), product, str(as_of))
