"""The examples in the respond docstrings run and show what the code does."""

import doctest
import importlib

import pytest

MODULES = [
    "respond.alerts",
    "respond.correlated",
    "respond.documents",
    "respond.incidents",
    "respond.ndjson",
    "respond.notify.templates",
    "respond.notify.webhook",
    "respond.store",
    "respond.testing",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    failed, attempted = doctest.testmod(module, optionflags=flags, verbose=False)
    assert (failed, attempted > 0) == (0, True)
