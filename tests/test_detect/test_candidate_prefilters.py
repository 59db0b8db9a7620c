"""A column's search narrowed (by the alternation of its literals, or to its ASCII literals
where its text is ASCII) keeps exactly its candidates."""

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detect.candidates import PREFILTER_MAX_BYTES, CandidateIndex, RuleGroup, _needed
from detect.patterns import Slot

# Regex syntax, a line break and non-ASCII letters: all only text inside a literal.
ALPHABET = st.sampled_from(list("ab.*+?()[]{}|^$\\-#& \nßσ🫵"))
LITERALS = st.lists(st.text(ALPHABET, min_size=1, max_size=4), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=LITERALS,
    second=LITERALS,
    texts=st.lists(st.one_of(st.none(), st.text(ALPHABET, max_size=12)), min_size=1, max_size=30),
    other=st.lists(st.one_of(st.none(), st.text(ALPHABET, max_size=12)), min_size=1, max_size=30),
)
def test_a_prefiltered_search_finds_the_same_groups_and_rows(
    first: list[str], second: list[str], texts: list[str | None], other: list[str | None]
) -> None:
    rows = max(len(texts), len(other))
    frame = pl.DataFrame(
        {
            "a": (texts * rows)[:rows],
            "b": (other * rows)[:rows],
        },
        schema={"a": pl.String, "b": pl.String},
    )
    patterns = [
        (frozenset(("a", literal) for literal in first),),
        (frozenset(("b", literal) for literal in second),),
        (frozenset({("a", first[0])}), frozenset({("b", second[-1])})),
    ]
    index = CandidateIndex(patterns)
    narrowed = index.with_prefilters(["a", "b"])
    assert set(narrowed.prefilters) == {"a", "b"}
    ascii_text = {c for c in ("a", "b") if all(t is None or t.isascii() for t in frame[c])}
    plain = _candidates(index, frame)
    for searched in (index, narrowed):
        for one_step_rows in (0, rows + 1):  # column by column, and in one step
            for ascii_columns in (set(), ascii_text):
                found = searched.search(frame, str, set(), one_step_rows, ascii_columns)
                assert [(g, r.to_list()) for g, r in found] == plain


def _candidates(index: CandidateIndex, frame: pl.DataFrame) -> list[tuple[RuleGroup, list[int]]]:
    """Each group's rows where every slot has a literal in its column's text, in Python."""
    slots = index.slots
    texts = frame.rows(named=True)

    def hit(slot: Slot, row: dict[str, str | None]) -> bool:
        return any((text := row[column]) is not None and lit in text for column, lit in slot)

    found = []
    for group in index.groups:
        rows = [n for n, row in enumerate(texts) if all(hit(slots[s], row) for s in group.slots)]
        if rows:
            found.append((group, rows))
    return found


def test_literals_too_long_to_compile_at_every_search_are_not_narrowed() -> None:
    literals = [f"{n:08x}" for n in range(PREFILTER_MAX_BYTES // 8 + 1)]
    index = CandidateIndex([(frozenset(("a", literal) for literal in literals),)])
    assert index.with_prefilters(["a"]).prefilters == {}
    assert set(
        CandidateIndex([(frozenset(("a", lit) for lit in literals[:-1]),)])
        .with_prefilters(["a"])
        .prefilters
    ) == {"a"}


@st.composite
def slots(draw: st.DrawFn) -> set[tuple[str, str]]:
    """Literals of two columns, many holding others: short texts of few letters, and
    hash-like ones of fixed lengths with longer ones built around some of them (many
    kept, so each of a longer text's substrings is looked up instead)."""
    column = st.sampled_from(["c", "d"])
    short = st.tuples(column, st.text(alphabet="ab=", min_size=1, max_size=7))
    bases = draw(st.lists(st.text(alphabet="abcdef", min_size=4, max_size=4), max_size=30))
    found = set(draw(st.lists(short, max_size=20)))
    for base in bases:
        found.add((draw(column), base))
        if draw(st.booleans()):
            pad = st.text(alphabet="abcdef", max_size=3)
            found.add((draw(column), draw(pad) + base + draw(pad)))
    return found or {("c", "a")}


@settings(max_examples=300, deadline=None)
@given(literals=slots())
def test_a_slot_searches_the_literals_that_hold_no_shorter_one_of_their_column(
    literals: set[tuple[str, str]],
) -> None:
    slot = frozenset(literals)
    expected = {
        (column, literal)
        for column, literal in slot
        if not any(
            other_column == column and len(other) < len(literal) and other in literal
            for other_column, other in slot
        )
    }
    _needed.cache_clear()
    assert _needed(slot) == expected


def test_each_column_s_literals_are_handed_to_polars_once_per_kind_of_text() -> None:
    index = CandidateIndex([(frozenset({("a", "ß"), ("a", "x")}),), (frozenset({("b", "y")}),)])
    every = index._searched("a", False)
    assert every.to_list() == [["x", "ß"]]
    assert index._searched("a", True).to_list() == [["x"]]  # ASCII text holds no ß
    # Built once: the next batch gets the same objects.
    assert index._searched("a", False) is every
    assert index._searched("b", True) is index._searched("b", False)
