"""The examples in every module's docstrings run and show what the code does."""

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ["ingest", "enrich", "detect", "respond", "neakta", "samples", "testsupport"]


def modules() -> list[str]:
    found = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        found.append(name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            if not info.name.endswith("__main__"):
                found.append(info.name)
    return found


@pytest.mark.parametrize("name", modules())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    failed, _ = doctest.testmod(module, optionflags=flags, verbose=False)
    assert failed == 0
