"""How a candidate version differs from the current champion: metric deltas, PSI and the swap set."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from creditmine.config import Params, PolicyParams, TrackingParams, ValidationParams
from creditmine.decision.policy import grade_decisions
from creditmine.registry.states import TAG_PRIMARY
from creditmine.registry.store import champion_version, download_run_artifacts, read_run_json
from creditmine.validation.stability import psi

__all__ = ["compare_with_champion"]


def compare_with_champion(client, model: str, version, params: Params | None = None) -> dict:
    """How a version differs from the current champion.

    Returns
    -------
    dict with `champion` (version number or None) and `note`; when there is a champion other than
    this version: `metrics` (list of {metric, candidate, champion, delta}), and, from both runs'
    ``02_train/scores.parquet`` joined on application_id (the same applications): `n_common`,
    `psi` (population stability index of the candidate's primary-model scores against the
    champion's, over the champion's score quantile bins), `swap_share` (share of applications whose
    decision approve/refer/decline would change, under the candidate's product policy),
    `swap_in` (approved by the candidate only), `swap_out` (approved by the champion only) and
    `decisions` (a cross-table champion decision -> candidate decision -> count).
    """
    validation = params.validation if params is not None else ValidationParams()
    settings = params.mlflow if params is not None else TrackingParams()
    mv = client.get_model_version(model, str(version))
    champion = champion_version(client, model)
    if champion is None:
        return {"champion": None, "note": f"{model} has no champion yet"}
    if str(champion.version) == str(mv.version):
        return {"champion": int(champion.version), "note": "this version is the champion"}
    mine, theirs = client.get_run(mv.run_id).data.metrics, client.get_run(champion.run_id).data.metrics
    common = mine.keys() & theirs.keys()
    first = sorted(k for k in common if k.startswith("light.")) + [k for k in settings.key_metrics if k in common]
    keys = first + sorted(k for k in common if k not in first)
    out = {
        "champion": int(champion.version), "note": "",
        "metrics": [{"metric": k, "candidate": mine[k], "champion": theirs[k], "delta": mine[k] - theirs[k]} for k in keys],
    }
    with tempfile.TemporaryDirectory(prefix="creditmine-cmp-") as tmp:
        cand = download_run_artifacts(client, mv.run_id, "02_train/scores.parquet", Path(tmp) / "a")
        champ = download_run_artifacts(client, champion.run_id, "02_train/scores.parquet", Path(tmp) / "b")
        if cand is None or champ is None:
            out["note"] = "scores of one of the two runs are missing: no score comparison"
            return out
        a, b = pd.read_parquet(cand), pd.read_parquet(champ)
    pa = mv.tags.get(TAG_PRIMARY) or client.get_run(mv.run_id).data.tags.get(TAG_PRIMARY, "")
    pb = champion.tags.get(TAG_PRIMARY) or client.get_run(champion.run_id).data.tags.get(TAG_PRIMARY, "")
    need_a, need_b = [f"score_{pa}", f"grade_{pa}"], [f"score_{pb}", f"grade_{pb}"]
    if any(c not in a for c in need_a) or any(c not in b for c in need_b):
        out["note"] = f"scores.parquet lacks {need_a} or {need_b}: no score comparison"
        return out
    joined = a[["application_id", *need_a]].merge(
        b[["application_id", *need_b]].rename(columns={need_b[0]: "score_champion", need_b[1]: "grade_champion"}),
        on="application_id",
    ).rename(columns={need_a[0]: "score_candidate", need_a[1]: "grade_candidate"})
    out["n_common"] = len(joined)
    if joined.empty:
        out["note"] = "the two versions scored no application in common: no score comparison"
        return out
    out["psi"] = psi(joined["score_champion"].to_numpy(float), joined["score_candidate"].to_numpy(float),
                     bins=validation.psi_bins)
    policy = PolicyParams.model_validate(read_run_json(client, mv.run_id, "config/policy.json") or {})
    cand_decision = grade_decisions(joined["grade_candidate"].to_numpy(), policy)
    champ_decision = grade_decisions(joined["grade_champion"].to_numpy(), policy)
    out["swap_share"] = float(np.mean(cand_decision != champ_decision))
    out["swap_in"] = int(np.sum((cand_decision == "approve") & (champ_decision != "approve")))
    out["swap_out"] = int(np.sum((champ_decision == "approve") & (cand_decision != "approve")))
    table = pd.crosstab(pd.Series(champ_decision, name="champion"), pd.Series(cand_decision, name="candidate"))
    out["decisions"] = {r: {c: int(table.loc[r, c]) for c in table.columns} for r in table.index}
    return out
