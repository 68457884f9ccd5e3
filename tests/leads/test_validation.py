"""The boundary checks every way data comes in shares (leads/validation.py): event times in a sane
range, values PostgreSQL cannot store (NUL, lone surrogates, NaN/Infinity, absurd nesting) named."""

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from hypothesis import given, settings
from hypothesis import strategies as st

from leads.models import CustomFieldType
from leads.validation import (
    MAX_NESTING,
    LeadFieldContext,
    clean_custom_value,
    clean_lead_fields,
    clean_occurred_at,
    unstorable,
)


class TestEventTimes:
    @pytest.mark.parametrize(
        "raw",
        [
            "0001-01-01T00:30:00+01:00",  # stored as 1 BC by PostgreSQL: unreadable afterwards
            "0001-01-01T00:00:00Z",
            "1999-12-31T23:59:59Z",
            "1970-01-01T00:00:00+00:00",
        ],
    )
    def test_a_time_before_2000_is_refused_with_a_reason(self, raw):
        with translation.override("en"), pytest.raises(ValidationError) as error:
            clean_occurred_at(raw)
        assert "2000" in error.value.messages[0]

    def test_the_reason_is_japanese_by_default(self):
        with translation.override("ja"), pytest.raises(ValidationError) as error:
            clean_occurred_at("1999-12-31T23:59:59Z")
        assert "2000年" in error.value.messages[0]

    @pytest.mark.parametrize("raw", ["9999-12-31T23:30:00-01:00", "2200-01-01T00:00:00Z"])
    def test_a_time_far_ahead_is_refused(self, raw):
        with pytest.raises(ValidationError):
            clean_occurred_at(raw)

    def test_an_offset_beyond_what_postgresql_accepts_is_converted_to_utc(self):
        value = clean_occurred_at("2026-11-01T10:00:00+20:00")
        assert value.utcoffset() == dt.timedelta(0)
        assert value == dt.datetime(2026, 10, 31, 14, 0, tzinfo=dt.UTC)

    def test_the_first_moment_of_2000_and_tomorrow_are_accepted(self):
        assert clean_occurred_at("2000-01-01T00:00:00Z").year == 2000
        soon = timezone.now() + dt.timedelta(hours=23)
        assert clean_occurred_at(soon.isoformat()) == soon


class TestUnstorable:
    @pytest.mark.parametrize(
        "value",
        [
            "a\x00b",
            {"note": "a\x00b"},
            {"a\x00": 1},
            ["ok", ["deep", "\x00"]],
        ],
    )
    def test_a_nul_character_is_named(self, value):
        with translation.override("en"):
            assert "NUL" in unstorable(value)

    @pytest.mark.parametrize("value", ["\ud800", {"x": "a\udfffb"}, {"\udc00": 1}])
    def test_a_lone_surrogate_is_named(self, value):
        with translation.override("en"):
            assert "surrogate" in unstorable(value)

    @pytest.mark.parametrize("value", [float("nan"), {"x": float("inf")}, [1, -float("inf")]])
    def test_nan_and_infinity_are_named(self, value):
        with translation.override("en"):
            assert "NaN" in unstorable(value)

    def test_nesting_deeper_than_the_limit_is_named(self):
        deep = json.loads("[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1))
        with translation.override("en"):
            assert "nested" in unstorable({"properties": deep})
        assert unstorable(json.loads("[" * MAX_NESTING + "]" * MAX_NESTING)) is None

    def test_nesting_of_a_thousand_levels_is_named_not_a_crash(self):
        assert unstorable(json.loads("[" * 1400 + "]" * 1400))

    @pytest.mark.parametrize(
        "value", ["株式会社テスト", "\\u0000 as text", {"a": [1, 2.5, None, True, "é"]}, "[[[[", 10**30]
    )
    def test_ordinary_values_pass(self, value):
        assert unstorable(value) is None

    @settings(max_examples=200, deadline=None)
    @given(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(exclude_categories=())),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(st.text(st.characters(exclude_categories=()), max_size=5), children, max_size=4)
            ),
            max_leaves=20,
        )
    )
    def test_whatever_passes_can_be_written_as_postgresql_json(self, value):
        if unstorable(value) is None:
            text = json.dumps(value, allow_nan=False, ensure_ascii=False)
            text.encode("utf-8")  # no lone surrogate
            assert "\\u0000" not in text.replace("\\\\", "")


class TestLeadFields:
    def test_a_nul_in_a_text_field_is_that_fields_error_and_not_echoed(self):
        with translation.override("en"), pytest.raises(ValidationError) as error:
            clean_lead_fields(
                {"email": "a\x00@example.jp", "name": "x\x00y", "company": "ok"},
                context=LeadFieldContext(),
                partial=True,
            )
        errors = error.value.message_dict
        assert set(errors) == {"email", "name"}
        assert all("\x00" not in message for messages in errors.values() for message in messages)

    def test_infinity_as_employee_count_is_an_error_not_a_crash(self):
        with pytest.raises(ValidationError) as error:
            clean_lead_fields({"employee_count": float("inf")}, context=LeadFieldContext(), partial=True)
        assert "employee_count" in error.value.message_dict

    def test_a_custom_date_outside_1900_to_2100_is_refused(self):
        definition = type("Definition", (), {"field_type": CustomFieldType.DATE, "choices": []})()
        with pytest.raises(ValidationError):
            clean_custom_value(definition, "0001-01-01")
        with pytest.raises(ValidationError):
            clean_custom_value(definition, "2101-01-01")
        assert clean_custom_value(definition, "2026/04/01") == "2026-04-01"

    def test_a_nul_in_a_custom_text_value_is_refused(self):
        definition = type("Definition", (), {"field_type": CustomFieldType.TEXT, "choices": []})()
        with pytest.raises(ValidationError):
            clean_custom_value(definition, "a\x00b")
