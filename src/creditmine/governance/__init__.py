"""Governance of model versions: stage 05 (`stage`: lineage, decision model, registration), the
review actions (`review`: approve, reject, promote, roll back, verify), the comparison with the
champion (`compare`) and the offline review pack (`review_pack`).

This package sits above `creditmine.decision` (stage 05 logs the decision model; the champion
comparison applies the product's policy); the registry core it acts on sits below both.
"""
