"""CSV numbers stay machine-readable (docs/formats.md "CSV").

Amounts past a thousand, where a page writes separators, are exported as plain integers,
US dollars as exact plain decimals, times as ISO 8601: every numeric cell of both exports
parses with ``int``/``Decimal`` and every timestamp with ``fromisoformat``.
"""

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from generations.selectors.reports import local_today
from tests.factories import ManagerFactory, UserFactory

from .test_views import csv_rows

pytestmark = pytest.mark.django_db

PLAIN_INT = re.compile(r"-?\d+")
EXACT_USD = re.compile(r"-?\d+\.\d{3}")


@pytest.fixture
def big_spender(ledger):
    """A member granted 1,234,567 credits who ran two jobs of 12,345 credits."""
    now = timezone.now()
    member = UserFactory(username="big")
    with ledger.chronological():
        ledger.grant(member, 1_234_567, now - timedelta(days=3))
        ledger.job(member, price=12_345, at=now - timedelta(days=2))
        ledger.job(member, price=12_345, at=now - timedelta(days=1), provider="aivideoapi")
    return member


def test_statement_csv_numbers_and_times_parse(client, big_spender):
    client.force_login(big_spender)
    page = client.get(reverse("generations:usage")).content.decode()
    assert "1,234,567" in page or "1,209,877" in page  # the page groups thousands

    rows = csv_rows(client.get(reverse("generations:statement_csv")))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    numeric = [header.index(name) for name in header if name.endswith("_credits")]
    assert len(numeric) == 5 and len(body) >= 5
    for row in body:
        stamp = datetime.fromisoformat(row[0])
        assert stamp.tzinfo is not None
        for i in [1, *numeric]:
            assert PLAIN_INT.fullmatch(row[i]), (header[i], row[i])
    amounts = {int(row[header.index("amount_credits")]) for row in body}
    assert {1_234_567, -12_345} <= amounts
    assert total[0] == "TOTAL"
    assert int(total[header.index("spent_credits")]) == 24_690


def test_team_csv_numbers_and_days_parse_and_dollars_sum_to_the_total(client, big_spender):
    client.force_login(ManagerFactory())
    today = local_today()
    params = {"from": (today - timedelta(days=7)).isoformat(), "to": today.isoformat()}
    rows = csv_rows(client.get(reverse("generations:team_spend_csv"), params))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert len(body) == 2
    usd = header.index("spent_usd")
    for row in body:
        date.fromisoformat(row[0])
        assert PLAIN_INT.fullmatch(row[header.index("jobs")])
        assert row[header.index("spent_credits")] == "12345"
        assert row[usd] == "12.345"  # exact: 1 credit = US$0.001, no US$, no separator
    assert EXACT_USD.fullmatch(total[usd])
    assert sum(Decimal(row[usd]) for row in body) == Decimal(total[usd]) == Decimal("24.690")
    assert total[header.index("spent_credits")] == "24690"


def test_csv_headers_follow_the_language_and_the_numbers_stay_machine_readable(client, big_spender):
    """Issue #17 item 3: a Russian member's CSV has Russian column names; the cells do not
    change (plain integers, exact dollars, ISO times)."""
    client.force_login(big_spender)
    english = csv_rows(client.get(reverse("generations:statement_csv")))
    russian = csv_rows(
        client.get(reverse("generations:statement_csv"), headers={"accept-language": "ru"})
    )
    assert english[0][:3] == ["created_at", "entry", "kind"]
    assert russian[0][:3] == ["создано", "запись", "вид"]
    assert russian[1:] == english[1:]
    manager = ManagerFactory(language="ru")
    client.force_login(manager)
    team = csv_rows(client.get(reverse("generations:team_spend_csv")))
    assert team[0][-3:] == ["задания", "потрачено_кредитов", "потрачено_usd"]
    assert team[-1][0] == "TOTAL"  # the totals row's marker is for machines
