"""k-anonymity generalisation, group sizes and significant-digit rounding (similarity/privacy.py)."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taar_assets.similarity.privacy import UNKNOWN, generalise_categories, round_significant, smallest_group

COLUMNS = ("city", "os", "locale")  # the order donor_profiles generalises in
# No example database: the tests must not write into the project directory.
PROPERTY = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def frame(*rows, extra=True):
    """A frame of (city, os, locale) rows, plus an untouched numeric column."""
    result = pd.DataFrame(list(rows), columns=list(COLUMNS))
    if extra:
        result["bookmark_count"] = np.arange(len(rows), dtype=float)
    return result


def missing_as_none(values):
    return [None if pd.isna(value) else value for value in values]


def rows_of(result):
    return [tuple(row) for row in result[list(COLUMNS)].itertuples(index=False)]


# --- generalise_categories -------------------------------------------------------------------


def test_k_of_one_changes_nothing():
    original = frame(("Paris", "Linux", "fr"), ("Lyon", "Darwin", "de"), ("Nice", "Windows_NT", "it"))
    result, replaced = generalise_categories(original, COLUMNS, 1)
    pd.testing.assert_frame_equal(result, original.astype({c: object for c in COLUMNS}))
    assert replaced == {"city": 0, "os": 0, "locale": 0}


def test_input_frame_is_not_modified():
    original = frame(("Paris", "Linux", "fr"), ("Paris", "Linux", "fr"), ("Lyon", "Linux", "fr"))
    copy = original.copy()
    generalise_categories(original, COLUMNS, 3)
    pd.testing.assert_frame_equal(original, copy)


def test_rare_city_is_generalised_first_and_alone_when_that_suffices():
    original = frame(
        ("Paris", "Linux", "fr"), ("Paris", "Linux", "fr"), ("Lyon", "Linux", "fr"), ("Nice", "Linux", "fr")
    )
    result, replaced = generalise_categories(original, COLUMNS, 2)
    assert rows_of(result) == [
        ("Paris", "Linux", "fr"),
        ("Paris", "Linux", "fr"),
        (UNKNOWN, "Linux", "fr"),
        (UNKNOWN, "Linux", "fr"),
    ]
    assert replaced == {"city": 2, "os": 0, "locale": 0}
    assert result["bookmark_count"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_the_column_order_given_is_the_generalisation_order():
    original = frame(
        ("Paris", "Linux", "fr"), ("Paris", "Linux", "fr"), ("Lyon", "Windows_NT", "fr"), ("Lyon", "Darwin", "fr")
    )
    # City first: the two Lyon rows differ by os, so after the city step they are still
    # alone, and the os step merges them; the city step took both cities.
    by_city, replaced_by_city = generalise_categories(original, COLUMNS, 2)
    assert rows_of(by_city)[2:] == [(UNKNOWN, UNKNOWN, "fr")] * 2
    assert replaced_by_city == {"city": 2, "os": 2, "locale": 0}
    # Os first: the os step alone makes them (Lyon, ??, fr) twice, so the city survives.
    by_os, replaced_by_os = generalise_categories(original, ("os", "city", "locale"), 2)
    assert rows_of(by_os)[2:] == [("Lyon", UNKNOWN, "fr")] * 2
    assert replaced_by_os == {"os": 2, "city": 0, "locale": 0}


def test_os_then_locale_are_generalised_when_the_city_is_not_enough():
    original = frame(
        ("Paris", "Linux", "fr"),
        ("Paris", "Linux", "fr"),
        ("Lyon", "Windows_NT", "de"),
        ("Nice", "Darwin", "it"),
    )
    result, replaced = generalise_categories(original, COLUMNS, 2)
    assert rows_of(result) == [
        ("Paris", "Linux", "fr"),
        ("Paris", "Linux", "fr"),
        (UNKNOWN, UNKNOWN, UNKNOWN),
        (UNKNOWN, UNKNOWN, UNKNOWN),
    ]
    assert replaced == {"city": 2, "os": 2, "locale": 2}


def test_values_already_unknown_are_not_counted_as_replaced():
    original = frame(
        ("Paris", "Linux", "fr"),
        ("Paris", "Linux", "fr"),
        ("Paris", "Linux", "fr"),
        (UNKNOWN, "Linux", "fr"),
        (UNKNOWN, "Linux", "fr"),
        ("Lyon", "Linux", "fr"),
    )
    result, replaced = generalise_categories(original, COLUMNS, 3)
    assert rows_of(result)[3:] == [(UNKNOWN, "Linux", "fr")] * 3
    assert replaced == {"city": 1, "os": 0, "locale": 0}


def test_fully_generalised_group_below_k_absorbs_the_smallest_other_group():
    original = frame(
        *[("Paris", "Linux", "fr")] * 5,
        *[("Berlin", "Linux", "de")] * 3,
        ("Lyon", "Windows_NT", "it"),
    )
    result, replaced = generalise_categories(original, COLUMNS, 3)
    # Lyon alone becomes (??, ??, ??), held by 1 < 3 rows: the smallest other group (Berlin,
    # 3 rows) is folded into it whole; Paris is untouched.
    assert rows_of(result) == [("Paris", "Linux", "fr")] * 5 + [(UNKNOWN, UNKNOWN, UNKNOWN)] * 4
    assert replaced == {"city": 4, "os": 4, "locale": 4}
    assert smallest_group(result, COLUMNS) == 4


def test_folding_counts_only_values_that_change_and_takes_the_first_of_equal_groups():
    original = frame(
        *[(UNKNOWN, "Linux", "de")] * 3,  # first of the two smallest groups: folded
        *[("Paris", "Linux", "fr")] * 3,
        ("Lyon", "Windows_NT", "it"),
    )
    result, replaced = generalise_categories(original, COLUMNS, 3)
    assert rows_of(result) == [(UNKNOWN, UNKNOWN, UNKNOWN)] * 3 + [("Paris", "Linux", "fr")] * 3 + [
        (UNKNOWN, UNKNOWN, UNKNOWN)
    ]
    assert replaced == {"city": 1, "os": 4, "locale": 4}


def test_one_fold_is_enough_because_every_other_group_already_holds_k_rows():
    original = frame(
        *[("Paris", "Linux", "fr")] * 4,
        *[("Berlin", "Linux", "de")] * 2,
        *[("Rome", "Linux", "it")] * 2,
        ("Lyon", "Windows_NT", "es"),
    )
    result, replaced = generalise_categories(original, COLUMNS, 4)
    # Berlin, Rome and Lyon are all rare: the three column steps merge them into one
    # (??, ??, ??) group of 5 >= k, so nothing is folded and Paris keeps its values.
    assert rows_of(result) == [("Paris", "Linux", "fr")] * 4 + [(UNKNOWN, UNKNOWN, UNKNOWN)] * 5
    assert replaced == {"city": 5, "os": 5, "locale": 5}


def test_all_rows_fold_into_one_group_when_nothing_else_works():
    original = frame(*[("Paris", "Linux", "fr")] * 5, ("Lyon", "Windows_NT", "de"))
    result, replaced = generalise_categories(original, COLUMNS, 2)
    assert rows_of(result) == [(UNKNOWN, UNKNOWN, UNKNOWN)] * 6
    assert replaced == {"city": 6, "os": 6, "locale": 6}


# The fold once compared values to find the group to fold; a missing value equals nothing, so
# nothing was folded and the loop never ended. The timeout turns a hang into a failure.
@pytest.mark.timeout(5, method="signal")
def test_missing_values_are_a_category_of_their_own_and_count_when_replaced():
    original = frame((None, "Linux", "fr"), (None, "Linux", "fr"), (np.nan, "Linux", "fr"), ("Lyon", "Linux", "fr"))
    result, replaced = generalise_categories(original, COLUMNS, 3)
    # NaN and None are one missing value: (missing, Linux, fr) is held by 3 rows. The lone Lyon
    # becomes (??, ??, ??) and, alone there, absorbs that group; its missing cities count as replaced.
    assert rows_of(result) == [(UNKNOWN, UNKNOWN, UNKNOWN)] * 4
    assert replaced == {"city": 4, "os": 4, "locale": 4}


def test_a_common_missing_value_is_kept_as_none():
    original = frame((None, "Linux", "fr"), (np.nan, "Linux", "fr"), ("Paris", "Linux", "fr"), ("Paris", "Linux", "fr"))
    result, replaced = generalise_categories(original, COLUMNS, 2)
    assert result["city"].tolist() == [None, None, "Paris", "Paris"]
    assert replaced == {"city": 0, "os": 0, "locale": 0}


def test_fewer_rows_than_k_raises():
    with pytest.raises(ValueError, match="cannot make 2 rows 3-anonymous"):
        generalise_categories(frame(("Paris", "Linux", "fr"), ("Paris", "Linux", "fr")), COLUMNS, 3)


@pytest.mark.parametrize("k", [0, -1])
def test_k_below_one_raises(k):
    with pytest.raises(ValueError, match=f"k must be at least 1, got {k}"):
        generalise_categories(frame(("Paris", "Linux", "fr")), COLUMNS, k)


CITY = st.sampled_from(["Paris", "Lyon", "Berlin", UNKNOWN, None])
OS = st.sampled_from(["Linux", "Darwin", "Windows_NT", UNKNOWN])
LOCALE = st.sampled_from(["fr", "de", "en-US", UNKNOWN])


COMBINATION = st.tuples(CITY, OS, LOCALE)


@st.composite
def grouped_rows(draw):
    """A few groups of identical rows, shuffled: the shape in which the fold step is reached."""
    groups = draw(st.lists(st.tuples(COMBINATION, st.integers(1, 8)), min_size=1, max_size=6))
    rows = [combination for combination, count in groups for _ in range(count)]
    return draw(st.permutations(rows))


@PROPERTY
@given(rows=st.one_of(st.lists(COMBINATION, min_size=1, max_size=40), grouped_rows()), k=st.integers(1, 8))
def test_result_is_k_anonymous_and_only_unknown_replaces_values(rows, k):
    original = frame(*rows)
    if len(original) < k:
        with pytest.raises(ValueError):
            generalise_categories(original, COLUMNS, k)
        return
    result, replaced = generalise_categories(original, COLUMNS, k)

    assert smallest_group(result, COLUMNS) >= k
    assert list(result.index) == list(original.index)
    pd.testing.assert_series_equal(result["bookmark_count"], original["bookmark_count"])
    for column in COLUMNS:
        changed = 0
        for before, after in zip(missing_as_none(original[column]), result[column]):
            if after != before:
                assert after == UNKNOWN, f"{column}: {before!r} became {after!r}"
                changed += 1
        assert replaced[column] == changed


# --- smallest_group ----------------------------------------------------------------------------


def test_smallest_group_is_the_size_of_the_rarest_combination():
    data = frame(*[("Paris", "Linux", "fr")] * 3, ("Paris", "Linux", "de"), *[("Lyon", "Linux", "fr")] * 2)
    assert smallest_group(data, COLUMNS) == 1
    assert smallest_group(data, ["city"]) == 2
    assert smallest_group(data, ["os"]) == 6


def test_smallest_group_counts_missing_values_as_a_group():
    data = frame((None, "Linux", "fr"), (None, "Linux", "fr"), ("Paris", "Linux", "fr"))
    assert smallest_group(data, COLUMNS) == 1
    assert smallest_group(data.iloc[:2], COLUMNS) == 2


# --- round_significant -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "expected"),
    [(1, 3.0), (2, 3.1), (3, 3.14), (4, 3.142), (6, 3.14159)],
)
def test_round_significant_keeps_the_given_number_of_digits(digits, expected):
    assert round_significant(pd.Series([3.14159]), digits).tolist() == [expected]


def test_round_significant_on_zeros_negatives_and_nan():
    values = pd.Series([0.0, -0.0, -1234.0, -0.0456, np.nan, 99.5, 0.999], index=list("abcdefg"), name="total_uri")
    rounded = round_significant(values, 2)
    assert rounded.index.tolist() == list("abcdefg")
    assert rounded.name == "total_uri"
    assert rounded.dtype == np.float64
    assert rounded.iloc[:4].tolist() == [0.0, 0.0, -1200.0, -0.046]
    assert math.isnan(rounded["e"])
    assert rounded.iloc[5:].tolist() == [100.0, 1.0]  # rounding can add a digit


def test_round_significant_on_large_and_small_magnitudes():
    values = pd.Series([123456789.0, 9.87e15, 1.234e-12, 0.012345, 1234.0])
    assert round_significant(values, 2).tolist() == pytest.approx(
        [120000000.0, 9.9e15, 1.2e-12, 0.012, 1200.0], rel=1e-12
    )
    assert round_significant(values, 1).tolist() == pytest.approx([1e8, 1e16, 1e-12, 0.01, 1000.0], rel=1e-12)


def test_round_significant_rounds_halves_to_even_and_reads_numbers_from_any_dtype():
    # numpy's round: exact halves go to the even neighbour.
    assert round_significant(pd.Series([2.5, 0.25, 3.5]), 1).tolist() == [2.0, 0.2, 4.0]
    # Integers, numeric strings and missing values are read as floats; what is not a number is NaN.
    mixed = round_significant(pd.Series([1234, "12.34", None, "abc"], dtype=object), 2).tolist()
    assert mixed[:2] == [1200.0, 12.0]
    assert math.isnan(mixed[2]) and math.isnan(mixed[3])
