"""Stage 05: register the product's decision model for review (`run`).

One MLflow run with the lineage of stages 01-04 (`creditmine.governance.lineage`), the decision
pyfunc logged into it (`creditmine.decision.package`), and a new version of the product's registered
model, **pending review**, whose first audit-trail entry is the registration. The stage writes
`registration.json` and its report shows the manifest, the version's tags and the comparison with
the current champion. Its own notebook and HTML are the receipt of the registration; they are not
artifacts of the version, so nothing amends a version once it is registered.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from creditmine import artifacts
from creditmine.config import RunConfig
from creditmine.governance.lineage import log_version_run
from creditmine.registry import manifest as mf
from creditmine.registry.states import model_name
from creditmine.registry.store import _download, connect

__all__ = ["RegisterResult", "manifest_table", "register_version", "run"]


@dataclass
class RegisterResult:
    """What stage 05 registered for one product.

    Attributes
    ----------
    run_id : the MLflow run holding every artifact.
    model_uri : the logged decision model (``models:/m-...``).
    version : the registered ModelVersion (pending review).
    manifest : DataFrame group, artifact, sha256 of every file of the version.
    review : what `creditmine review show` gives for the version (metrics, comparison, pack path).
    """

    run_id: str
    model_uri: str
    version: object
    manifest: pd.DataFrame
    review: dict = field(default_factory=dict)

    def at_a_glance(self, cfg: RunConfig | None = None):
        """The report's opening panel: the version, its review state and verdict, and the next step
        (never approval for a red verdict). `cfg` adds `--params` to the commands when the params
        name the store."""
        from creditmine.reports import register

        gating = cfg.params.validation.gating if cfg is not None else ()
        return register.at_a_glance(self.version.name, self.version.version, dict(self.version.tags), self.review,
                                    len(self.manifest), register.store_args(cfg), gating)

    def next_steps(self, cfg: RunConfig | None = None) -> list[tuple[str, str]]:
        """What to do with the version: (sentence, command) pairs."""
        from creditmine.reports import register

        verdict, state = register.review_state(dict(self.version.tags), self.review)
        return register.next_steps(self.version.name, self.version.version, verdict, state, register.store_args(cfg))

    def run_facts(self):
        """The MLflow run and the logged decision model, as a table (HTML)."""
        from creditmine.reports.tables import table

        return table(pd.DataFrame([("MLflow run id", self.run_id), ("logged decision model", self.model_uri),
                                   ("registered as", f"{self.version.name} version {self.version.version}")],
                                  columns=["what", "value"]), formats={"value": "text"})

    def tags(self):
        """The version's tags, one row each, values in full (HTML)."""
        from creditmine.reports import register

        return register.tags(dict(self.version.tags))

    def manifest_table(self):
        """Files per group, and every file with its SHA-256 collapsed (HTML)."""
        from creditmine.reports import register

        return register.manifest(self.manifest)

    def lit_tests(self, gating=()):
        """The lit tests (the `gating` ones first and solid) and, collapsed, every other metric (HTML)."""
        from creditmine.reports import register

        return register.lit_tests(self.review, gating)

    def comparison(self):
        """Metric deltas against the current champion, or why there is none (HTML)."""
        from creditmine.reports import register

        return register.comparison(self.review, self.version.name)

    def comparison_summary(self):
        """The comparison's PSI and swap set, and the path of the review pack (HTML)."""
        from creditmine.reports import register

        return register.comparison_facts(self.review)


def run(cfg: RunConfig, product: str, progress: bool = True) -> RegisterResult:
    """Stage 05 for one product: log the run, log the decision model, register a pending version.

    Parameters
    ----------
    cfg : the validated run configuration (its `tracking_uri`).
    product : a product of `cfg` whose stages 01-04 have run.
    progress : unused (the stage is a few calls); kept so that every stage has the same signature.
    """
    from creditmine.governance.review import show

    run_id, model_info = log_version_run(cfg, product)
    version = register_version(cfg, product, run_id, model_info.model_uri)
    review = show(cfg.tracking_uri, version.name, version.version, cfg.params)
    return RegisterResult(run_id, model_info.model_uri, version, manifest_table(cfg, run_id), review)


def register_version(cfg: RunConfig, product: str, run_id: str, model_uri: str):
    """Register the decision model logged in `run_id` as a new version of the product's model, pending review.

    The review rules register it (`creditmine.governance.review.actions`: in this process as the
    OS user for the embedded store, inside the team server as the authenticated account): they
    build the manifest from the store's bytes, vet the model, read the verdict from the run's
    validation results and record all of it, signed, as the version's first audit-trail entry;
    the version gets the model card as its description. registration.json records run id, model
    name, version and manifest hash.

    Parameters
    ----------
    cfg, product : as for `run`.
    run_id : the run returned by `log_version_run`.
    model_uri : the logged decision model, ``models:/m-...`` as `log_model` returns it.

    Returns
    -------
    mlflow.entities.model_registry.ModelVersion
    """
    from creditmine.governance.review import actions

    if not model_uri.startswith("models:/m-"):
        raise ValueError(f"expected the logged model's URI models:/m-...; got {model_uri!r}")
    name = model_name(cfg, product)
    entry = actions(cfg.tracking_uri, cfg.params.mlflow).register(
        name, run_id, model_uri[len("models:/"):], product, cfg.run_name)
    version = entry["version"]
    artifacts.write_registration(artifacts.layout(cfg, product), {
        "run_id": run_id, "model_name": name, "version": int(version),
        "manifest_hash": entry["details"]["manifest_hash"], "tracking_uri": cfg.tracking_uri,
        "developer": entry["actor"],
    })
    return connect(cfg.tracking_uri, cfg.params.mlflow).get_model_version(name, version)


def manifest_table(cfg: RunConfig, run_id: str) -> pd.DataFrame:
    """The run's manifest as a DataFrame: top folder, artifact path, sha256 (hex); sorted by path."""
    client = connect(cfg.tracking_uri, cfg.params.mlflow)
    with tempfile.TemporaryDirectory(prefix="creditmine-man-") as tmp:
        manifest = mf.read_manifest(_download(client, run_id, mf.MANIFEST_FILE, Path(tmp)))
    table = pd.DataFrame(sorted(manifest["files"].items()), columns=["artifact", "sha256"])
    table.insert(0, "group", table["artifact"].str.split("/").str[0])
    return table
