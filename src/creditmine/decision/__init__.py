"""Automatic credit decisions: the registered model scores, decides, limits and explains.

- `policy`: grade -> approve / refer / decline, limits by product rule with caps, terms, and the
  policy simulation per grade cut-off (`simulate_policy`, `simulate_policy_for_run`).
- `inputs`: per-row validation of application rows (every bad row gets its own error).
- `model`: `DecisionModel`, the MLflow pyfunc (a model from code; the deployment gate runs when it
  loads) and `DecisionEngine`, the scoring path it wraps.
- `package`: `log_decision_model(cfg, product, run_id)`, logging it into a pipeline run (stage 05).
- `score`: batch scoring of files with a registered version (`creditmine score`).

Submodules import MLflow and scikit-learn; import them directly (`creditmine.decision.policy`).
"""
