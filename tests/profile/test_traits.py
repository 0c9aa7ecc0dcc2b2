"""Trait validation: what imports and updates accept, and that stored values read back equal."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nextbest.profile import TraitError, coerce_traits, coerce_value, validate_traits
from nextbest.rules import RuleType

T = RuleType
TYPES = {
    "age": T.NUMBER,
    "name": T.TEXT,
    "vip": T.BOOL,
    "born": T.DATE,
    "seen": T.DATETIME,
    "products": T.LIST_TEXT,
    "scores": T.LIST_NUMBER,
}


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("age", "42", 42),
        ("age", " 4_2.5 ", 42.5),
        ("vip", "yes", True),
        ("vip", 0, False),
        ("born", "2001-02-03", date(2001, 2, 3)),
        ("seen", "2026-01-01T10:00:00Z", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("seen", "2026-01-01T10:00:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("products", "A|B", frozenset({"A", "B"})),
        ("products", '["A", "B"]', frozenset({"A", "B"})),
        ("scores", [1, "2"], frozenset({1, 2})),
    ],
)
def test_coercion(field: str, raw: object, expected: object) -> None:
    assert coerce_value(TYPES[field], raw) == expected


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        ("age", "old", "expected a number, got `old`"),
        ("age", True, "expected a number, got true/false"),
        ("age", "nan", "expected a finite number"),
        ("vip", "maybe", "expected true or false"),
        ("born", "31.12.2020", "expected a date like 2026-05-31"),
        ("seen", "yesterday", "expected a date-time"),
        ("products", [1, 2], "expected a list of text"),
        ("name", ["x"], "expected text"),
        ("unknown", 1, "not a profile field"),
    ],
)
def test_bad_values_name_the_field(field: str, raw: object, message: str) -> None:
    with pytest.raises(TraitError) as info:
        validate_traits(TYPES, {field: raw})
    assert info.value.field == field
    assert message in info.value.message


values = st.fixed_dictionaries(
    {},
    optional={
        "age": st.integers(-(10**9), 10**9) | st.floats(allow_nan=False, allow_infinity=False),
        "name": st.text(min_size=1, max_size=20),  # "" means "no value" (CSV cells)
        "vip": st.booleans(),
        "born": st.dates(),
        "seen": st.datetimes(timezones=st.just(UTC)),
        "products": st.lists(st.text(max_size=8), max_size=4),
        "scores": st.lists(st.integers(-100, 100), max_size=4),
    },
)


@given(values)
def test_stored_values_read_back_equal(raw: dict[str, object]) -> None:
    """validate (what is stored, as JSON) then coerce (what rules see) is the identity on
    typed values: nothing is lost or changed on the way through the store."""
    stored = validate_traits(TYPES, raw)
    typed = coerce_traits(TYPES, stored)
    for key, value in raw.items():
        expected = frozenset(value) if isinstance(value, list) else value  # type: ignore[arg-type]
        assert typed[key] == expected, key
