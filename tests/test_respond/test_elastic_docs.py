"""The examples in the Elasticsearch and Kibana docstrings run and show what the code does."""

import doctest
import importlib

import pytest

MODULES = [
    "respond.elastic.actions",
    "respond.elastic.client",
    "respond.elastic.encode",
    "respond.elastic.sink",
    "respond.elastic.templates",
    "respond.kibana.importer",
    "respond.kibana.objects",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    failed, attempted = doctest.testmod(module, optionflags=flags, verbose=False)
    assert (failed, attempted > 0) == (0, True)
