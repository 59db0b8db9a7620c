"""The examples in the detect docstrings run and show what the code does."""

import doctest
import importlib

import pytest

MODULES = ["detect.engine", "detect.ir", "detect.patterns", "detect.pipelines", "detect.loader"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    failed, _ = doctest.testmod(module, optionflags=flags, verbose=False)
    assert failed == 0
