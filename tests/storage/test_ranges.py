"""``byte_range``: one RFC 9110 byte-range-spec against a file size."""

import pytest

from generations.storage import RangeNotSatisfiable, byte_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-99", 1000, (0, 99)),
        ("bytes=0-0", 1000, (0, 0)),
        ("bytes=100-", 1000, (100, 999)),  # open-ended
        ("bytes=-100", 1000, (900, 999)),  # the last 100 bytes
        ("bytes=-5000", 1000, (0, 999)),  # a suffix longer than the file: all of it
        ("bytes=900-5000", 1000, (900, 999)),  # last clipped to the end
        ("bytes=999-999", 1000, (999, 999)),
        ("BYTES=0-9", 1000, (0, 9)),  # range units are case-insensitive
        (" bytes=0-9 ", 1000, (0, 9)),
    ],
)
def test_satisfiable_ranges(header, size, expected):
    assert byte_range(header, size) == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-99,200-299",  # several ranges: the whole file is sent instead
        "bytes=99-0",  # last before first: invalid, ignored
        "bytes=-",
        "bytes=a-b",
        "bytes=1.5-2",
        "bytes=0-99 junk",
        "items=0-9",  # another unit
        "0-99",
        "bytes=\u0661-\u0662",  # non-ASCII digits are not digits here
    ],
)
def test_ignored_headers_mean_the_whole_file(header):
    assert byte_range(header, 1000) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=1000-", 1000),  # starts at the end
        ("bytes=2000-2999", 1000),
        ("bytes=-0", 1000),  # an empty suffix
        ("bytes=0-", 0),  # nothing in an empty file can be sent
        ("bytes=-10", 0),
    ],
)
def test_unsatisfiable_ranges(header, size):
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, size)
