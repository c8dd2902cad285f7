"""The stage contract: stage and split names, where each stage's files live, and their readers and writers.

This package is the code form of the "Stage outputs" table of docs/architecture.md. Every stage, the
registry and the decision package find and read an earlier stage's files only through it, so a
renamed file is one edit here::

    where = artifacts.layout(cfg, product)         # every path of the run and product
    scores = artifacts.read_scores(where)          # checked; names the stage to run when missing
    artifacts.write_validation(where, document)

It sits just above `creditmine.config` and imports nothing else of creditmine.
"""

from creditmine.artifacts.catalog import FeatureSpec, catalog_frame, read_catalog_file, write_catalog_file
from creditmine.artifacts.files import *  # noqa: F403 - the readers and writers are the API
from creditmine.artifacts.files import __all__ as _files_all
from creditmine.artifacts.layout import Layout, MonitorLayout, layout, monitor_layout
from creditmine.artifacts.model_files import TRUSTED_TYPES, load_model_file, save_model_file
from creditmine.artifacts.names import *  # noqa: F403
from creditmine.artifacts.names import __all__ as _names_all

__all__ = [
    *_files_all, *_names_all, "FeatureSpec", "Layout", "MonitorLayout", "TRUSTED_TYPES", "catalog_frame", "layout", "monitor_layout",
    "load_model_file", "read_catalog_file", "save_model_file", "write_catalog_file",
]
