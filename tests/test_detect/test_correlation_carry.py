"""A rule reload keeps the open windows of correlation rules whose definition did not change."""

from __future__ import annotations

from detect.correlation.carry import carry_over, definitions, unchanged
from tests.test_detect.test_correlation import MANY_FAILED, failures
from tests.test_detect.test_correlation_helpers import BASE_RULES, compile_all, frame

OTHER = """
title: Failed logins from many sources
id: 6b2c1d3e-4f50-4a61-8b72-9c83d4e5f601
correlation: {type: value_count, rules: failed, group-by: user, timespan: 60s,
              condition: {field: src, gte: 2}}
level: medium
"""


def test_unchanged_rules_keep_their_window_and_changed_ones_start_over() -> None:
    base, old = compile_all(BASE_RULES, MANY_FAILED + "---\n" + OTHER)
    correlator = old.correlator(lateness_s=0)
    events = frame(failures(0, 10, src="s1"))
    assert correlator.process(events, base.evaluate(events)).alerts.height == 0

    longer = OTHER.replace("timespan: 60s", "timespan: 120s")
    new_base, new = compile_all(BASE_RULES, longer + "---\n" + MANY_FAILED)
    keep = unchanged(definitions(old, base), definitions(new, new_base))
    assert keep == {"3f1f0a52-1d1c-4f7e-9b1a-2c2e8f0d9a11"}
    carried = carry_over(correlator, new, keep)

    more = frame(failures(20, src="s2"))
    carried.process(more, new_base.evaluate(more))
    # Many failed logins counts the two failures from before the reload: 3 in the window.
    # The changed rule forgot the source s1 it had seen: s2 alone is one source, no alert.
    alerts = carried.flush()
    assert alerts.select("rule_title", "value").rows() == [("Many failed logins", 3.0)]
