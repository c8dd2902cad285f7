"""creditmine: develop, explain, validate and govern SME credit models from government data."""

__version__ = "0.1.0"
