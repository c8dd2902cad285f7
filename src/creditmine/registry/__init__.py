"""The model registry in MLflow, split by job: the state vocabulary (`states`), the store
(`store`), artifact manifests (`manifest`), the audit trail (`audit`) and the one deployment gate
(`gate`). Stage 05 and the review workflow that act on it are `creditmine.governance`.

Submodules import MLflow lazily where they can; import them directly
(`from creditmine.registry.gate import check_deployable`).
"""
