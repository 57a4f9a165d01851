"""Hypothesis strategies the agreement tests (SQL against Python) share."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def database_examples(n: int) -> Callable:
    """An agreement test whose examples write to the test database: marked ``django_db``, with ``n``
    examples, no deadline (SQL takes its time), function-scoped fixtures allowed (each example clears
    the tables it fills)."""
    examples = settings(
        max_examples=n, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    return lambda test: pytest.mark.django_db(examples(test))


def condition_trees(leaf: st.SearchStrategy, *, max_leaves: int) -> st.SearchStrategy:
    """Condition trees (docs/conditions.md) over ``leaf`` conditions: ``and`` and ``or`` of up to
    three children, ``not`` of one, nested, with at most ``max_leaves`` leaves."""
    return st.recursive(
        leaf,
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(lambda c: {"and": c}),
            st.lists(children, max_size=3).map(lambda c: {"or": c}),
            children.map(lambda c: {"not": c}),
        ),
        max_leaves=max_leaves,
    )
