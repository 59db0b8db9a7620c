"""The examples in the enrich docstrings run and show what the code does."""

import doctest
import importlib
import pkgutil

import pytest

import enrich

MODULES = [f"enrich.{info.name}" for info in pkgutil.iter_modules(enrich.__path__)]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    failed, _ = doctest.testmod(module, optionflags=flags, verbose=False)
    assert failed == 0
