import pytest

from kit.errors import InvalidArgument
from kit.paging import next_page_token, page_request


def test_first_page_uses_the_default_size_and_caps_the_maximum():
    assert page_request(0, "", default=50, maximum=500).size == 50
    assert page_request(10_000, "", default=50, maximum=500).size == 500


def test_a_token_returns_its_cursor_for_the_same_query():
    token = next_page_token({"id": "u-9"}, query="unit=1")
    assert page_request(10, token, query="unit=1").after == {"id": "u-9"}


def test_a_token_for_another_query_is_refused_naming_page_token():
    token = next_page_token("u-9", query="unit=1")
    with pytest.raises(InvalidArgument) as info:
        page_request(10, token, query="unit=2")
    assert info.value.violations[0].field == "page_token"


@pytest.mark.parametrize("garbage", ["%%%", "bm90IGpzb24", "e30"])
def test_garbage_tokens_are_invalid_argument(garbage):
    with pytest.raises(InvalidArgument):
        page_request(10, garbage)


def test_negative_page_size_is_invalid():
    with pytest.raises(InvalidArgument):
        page_request(-1, "")
