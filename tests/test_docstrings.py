"""The Examples sections of the public estimators, helpers and low-level API run."""

import doctest
import importlib

import pytest

MODULES = [
    "sklearn_fairif._fairif", "sklearn_fairif._iffair",
    "sklearn_fairif._validation_set", "sklearn_fairif.influence._service",
    "sklearn_fairif.influence._solvers", "sklearn_fairif.adapters._registry",
    "sklearn_fairif.adapters._protocol",
    "sklearn_fairif.utils._tabular",
]


@pytest.mark.parametrize("module", MODULES)
def test_examples_run(module):
    result = doctest.testmod(importlib.import_module(module),
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
