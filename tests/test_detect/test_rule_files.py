"""Rule files found under a folder: the same as ``Path.rglob`` finds, in the same order."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from detect.files import RULE_SUFFIXES, find_rule_files
from detect.watch import RuleWatcher

# Hidden, doubled and bare suffixes, upper case, and names that sort apart as text and as
# path parts ("a-b" before "a/..." as text, after it as parts).
NAMES = st.sampled_from(
    [
        *("a.yml", "b.yaml", "c.txt", ".yml", ".hidden.yml", "d.yml.bak", "e.", "x-y.yml"),
        *("A.YML", "z", "dir.yml", "a-b", "a", "b.yml"),
    ]
)
TREES = st.recursive(
    st.dictionaries(NAMES, st.none(), max_size=4),
    lambda children: st.dictionaries(NAMES, children | st.none(), max_size=4),
    max_leaves=12,
)


def build(root: Path, tree: dict[str, object]) -> None:
    for name, below in tree.items():
        if isinstance(below, dict):
            (root / name).mkdir()
            build(root / name, below)
        else:
            (root / name).write_text("title: x\n")


def by_rglob(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in RULE_SUFFIXES)


@settings(max_examples=60, deadline=None)
@given(TREES)
def test_a_folder_gives_what_rglob_gives_in_sorted_order(tree: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as raw:
        root = Path(raw) / "rules"
        root.mkdir()
        build(root, tree)
        assert find_rule_files([root]) == by_rglob(root)


def test_links_to_folders_are_not_followed_and_files_are_taken_as_given(tmp_path: Path) -> None:
    (tmp_path / "rules" / "a-b").mkdir(parents=True)
    (tmp_path / "rules" / "a-b" / "x.yml").write_text("")
    (tmp_path / "rules" / "a" / "b").mkdir(parents=True)
    (tmp_path / "rules" / "a" / "b" / "y.yml").write_text("")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "z.yml").write_text("")
    (tmp_path / "rules" / "linked").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "one.txt").write_text("")

    found = find_rule_files([tmp_path / "rules", tmp_path / "one.txt"])

    # Ordered by path components, as Path objects sort: "a/b/y.yml" before "a-b/x.yml".
    assert found == [
        tmp_path / "rules" / "a" / "b" / "y.yml",
        tmp_path / "rules" / "a-b" / "x.yml",
        tmp_path / "one.txt",
    ]
    assert found[:2] == by_rglob(tmp_path / "rules")


def test_the_watcher_sees_a_file_rewritten_added_and_removed(tmp_path: Path) -> None:
    rule = tmp_path / "sub" / "r.yml"
    rule.parent.mkdir()
    rule.write_text("title: a\n")
    watcher = RuleWatcher([tmp_path])
    assert not watcher.changed()

    rule.write_text("title: ab\n")
    assert watcher.changed()
    (tmp_path / "sub" / "s.yaml").write_text("title: s\n")
    assert watcher.changed()
    rule.unlink()
    assert watcher.changed()
    (tmp_path / "notes.txt").write_text("not a rule")
    assert not watcher.changed()
