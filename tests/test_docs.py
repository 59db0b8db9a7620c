"""The documentation shows what the code does: examples run, paths and names exist."""

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

PACKAGES = ["ingest", "enrich", "detect", "respond", "neakta", "samples", "testsupport"]
ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
CODE = re.compile(r"`([^`\n]+)`")
REPO_PATH = re.compile(r"[\w-][\w.-]*(/[\w.-]+)*/?")
DOTTED = re.compile(r"(ingest|detect|enrich|respond|neakta|samples|testsupport|sigma)(\.\w+)+")


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


def prose(page: Path) -> str:
    """The page's text outside fenced code blocks (those hold examples, not repo paths)."""
    return FENCE.sub("", page.read_text(encoding="utf-8"))


def inline_code(page: Path) -> list[str]:
    return CODE.findall(prose(page))


def resolves(dotted: str) -> bool:
    """Whether ``a.b.c`` is an importable module or an attribute of one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def test_the_readme_fits_one_screen_and_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 150
    for section in ("## Two commands", "## The data path", "## Layout", "## Documentation"):
        assert section in readme
    linked = {Path(target).name for target in LINK.findall(readme)}
    pages = {page.name for page in (ROOT / "docs").glob("*.md")}
    assert pages - linked == set()


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_links_reach_files(page: Path) -> None:
    targets = [t for t in LINK.findall(prose(page)) if "://" not in t]
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert missing == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_repository_paths_exist(page: Path) -> None:
    paths = [
        code
        for code in inline_code(page)
        if "/" in code and REPO_PATH.fullmatch(code) and not code.startswith(".neakta/")
    ]
    missing = [path for path in paths if not (ROOT / path).exists()]
    assert missing == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_module_names_exist(page: Path) -> None:
    names = [code for code in inline_code(page) if DOTTED.fullmatch(code)]
    missing = [name for name in names if not resolves(name)]
    assert missing == []
