"""The Dagster code location: everything under `defs/` (loaded by folder), the resources, the executor."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

import taar_assets.defs
from taar_assets.resources import build_resources

# The folder holding the package: found the same way whether the project is a checkout or
# installed into site-packages (where no pyproject.toml tells load_from_defs_folder where it is).
_PACKAGE_PARENT = Path(taar_assets.defs.__file__).parents[2]


def build_definitions(resources: dict[str, object] | None = None) -> dg.Definitions:
    return dg.Definitions.merge(
        dg.ComponentTree.from_module(defs_module=taar_assets.defs, project_root=_PACKAGE_PARENT).build_defs(),
        dg.Definitions(
            resources=resources if resources is not None else build_resources(),
            # The stages run one after another; a process per step would only add start-up time.
            executor=dg.in_process_executor,
        ),
    )


defs = build_definitions()
