"""The decision model as an MLflow model from code: the installed creditmine's class, nothing else.

MLflow copies this file into the logged model and runs it when the model loads; it only imports
`DecisionModel` from the installed package, so the code that decides is the package's, not code
kept with the artifacts.
"""

import mlflow

from creditmine.decision.model import DecisionModel

mlflow.models.set_model(DecisionModel())
