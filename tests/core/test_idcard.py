"""GB 11643 ID-card numbers and masking."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from lms.core.idcard import check_digit, id_number_problem, make_id_number, mask_id_number, mask_phone

births = st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2008, 12, 31))


def test_published_example_number_is_valid():
    # The worked example of GB 11643-1999 annex: 11010519491231002X.
    assert check_digit("11010519491231002") == "X"
    assert id_number_problem("11010519491231002X") is None
    assert id_number_problem("11010519491231002x") is None


@given(birth=births, sequence=st.integers(0, 999))
def test_every_generated_number_is_valid(birth, sequence):
    assert id_number_problem(make_id_number("420106", birth, sequence)) is None


@given(birth=births, sequence=st.integers(0, 999), position=st.integers(0, 16), digit=st.integers(0, 9))
def test_changing_any_one_digit_is_caught(birth, sequence, position, digit):
    number = make_id_number("420106", birth, sequence)
    changed = number[:position] + str(digit) + number[position + 1:]
    if changed != number:
        assert id_number_problem(changed) is not None


def test_masks_keep_only_the_ends():
    assert mask_id_number("11010519491231002X") == "110***********002X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id_number(None) == "" and mask_phone("") == ""
