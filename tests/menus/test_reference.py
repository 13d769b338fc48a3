"""Reference numbers: digits only, with a check digit that catches typing mistakes."""

from __future__ import annotations

from menus.reference import check_digit, is_valid, new_reference


def test_new_references_are_seven_digits_and_valid():
    for _ in range(200):
        ref = new_reference()
        assert len(ref) == 7 and ref.isdigit() and ref[0] != "0"
        assert is_valid(ref)


def test_every_single_digit_mistake_is_refused():
    ref = new_reference()
    for i in range(len(ref)):
        for digit in "0123456789":
            if digit != ref[i]:
                assert not is_valid(ref[:i] + digit + ref[i + 1 :])


def test_every_swap_of_neighbouring_digits_is_refused():
    for _ in range(100):
        ref = new_reference()
        for i in range(len(ref) - 1):
            swapped = ref[:i] + ref[i + 1] + ref[i] + ref[i + 2 :]
            if swapped != ref:
                assert not is_valid(swapped)


def test_malformed_references_are_refused():
    body = "483027"
    assert is_valid(body + check_digit(body))
    for bad in ["", "abc", "48302", "4830270000", "48 3027", body + "x"]:
        assert not is_valid(bad)
