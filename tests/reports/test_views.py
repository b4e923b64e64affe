"""Report pages and CSV exports: who may see them, what they show, and that the CSV
totals equal the page totals and the ledger."""

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from generations.models import CreditAccount, CreditEntry, Generation, ProviderBalanceReading
from generations.providers import PROVIDER_NAMES, ProviderConnectionError
from generations.selectors.reports import day_range, local_today
from generations.views import reports
from tests.factories import ManagerFactory, UserFactory

from .conftest import balance_after_each, spent_between

pytestmark = pytest.mark.django_db

TEAM_NAMES = ("generations:team_spend", "generations:team_spend_csv")
ALL_NAMES = ("generations:usage", "generations:statement_csv", *TEAM_NAMES)


def csv_rows(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def activity(ledger):
    """Three members with jobs over the last 40 days (captured, released, held), run by
    APIXO and aivideoapi.ai."""
    now = timezone.now()
    members = [UserFactory(username=f"spender{i}") for i in range(3)]
    with ledger.chronological():
        for i, member in enumerate(members):
            ledger.grant(member, 20_000, now - timedelta(days=45))
            for day in range(0, 40, 4):
                at = now - timedelta(days=day, hours=i)
                ledger.job(
                    member,
                    price=40 + 10 * i + day,
                    at=at,
                    resolution="720p" if day % 8 else "480p",
                    provider="aivideoapi" if (day + i) % 3 == 0 else "apixo",
                )
            ledger.job(
                member, price=60, at=now - timedelta(days=3), outcome=Generation.State.FAILED
            )
            ledger.job(
                member, price=70, at=now - timedelta(hours=1), outcome=Generation.State.SUBMITTED
            )
    return members


@pytest.fixture
def manager_client(client):
    client.force_login(ManagerFactory())
    return client


# --- Access --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_NAMES)
def test_anonymous_users_are_sent_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", TEAM_NAMES)
def test_members_get_a_404_on_team_reports(member_client, name):
    assert member_client.get(reverse(name)).status_code == 404


def test_managers_see_the_team_report(manager_client, activity):
    response = manager_client.get(reverse("generations:team_spend"))
    assert response.status_code == 200
    for member in activity:
        assert f'data-member="{member.username}"'.encode() in response.content


def test_a_members_statement_never_includes_another_members_entries(client, activity):
    member, other = activity[0], activity[1]
    client.force_login(member)
    page = client.get(reverse("generations:usage"))
    shown = {entry.pk for entry in page.context["page_obj"].object_list}
    rows = csv_rows(client.get(reverse("generations:statement_csv")))
    exported = {int(row[1]) for row in rows[1:-1]}
    mine = set(CreditEntry.objects.filter(account__user=member).values_list("pk", flat=True))
    theirs = set(CreditEntry.objects.filter(account__user=other).values_list("pk", flat=True))
    assert exported == mine and shown <= mine
    assert not (exported | shown) & theirs


# --- Usage page ----------------------------------------------------------------------------


def test_usage_page_shows_credits_spend_chart_data_and_tables(client, activity):
    member = activity[1]
    client.force_login(member)
    response = client.get(reverse("generations:usage"))
    assert response.status_code == 200
    account = CreditAccount.objects.get(user=member)
    usage = response.context["usage"]
    assert (usage.balance, usage.held) == (account.balance, account.held)
    today = local_today()
    month_spend = spent_between(*day_range(today.replace(day=1), today), user=member)
    assert usage.spent_this_month == month_spend
    content = response.content.decode()
    assert 'id="chart-daily"' in content and 'type="application/json"' in content
    assert "vendor/chartjs/chart.umd.min.js" in content
    assert "<table" in content  # the figures without JavaScript
    assert f'data-testid="usage-balance">{account.balance:,}<' in content


def test_usage_page_empty_states(member_client):
    response = member_client.get(reverse("generations:usage"))
    assert response.status_code == 200
    assert b"No spend in this period" in response.content
    assert b"No ledger entries in this period" in response.content


def test_statement_page_running_balance_across_pages(client, activity, monkeypatch):
    monkeypatch.setattr(reports, "STATEMENT_PAGE_SIZE", 10)
    member = activity[2]
    client.force_login(member)
    truth = balance_after_each(member)
    first = client.get(reverse("generations:usage")).context["page_obj"]
    assert first.paginator.num_pages >= 2
    assert first.object_list[0].running_balance == CreditAccount.objects.get(user=member).balance
    second = client.get(reverse("generations:usage"), {"page": 2}).context["page_obj"]
    for entry in [*first.object_list, *second.object_list]:
        assert entry.running_balance == truth[entry.pk]
    assert (
        first.object_list[len(first.object_list) - 1].created_at >= second.object_list[0].created_at
    )


def test_statement_filter_by_kind_and_dates(client, activity):
    member = activity[0]
    client.force_login(member)
    today = local_today()
    params = {
        "kind": "capture",
        "from": (today - timedelta(days=10)).isoformat(),
        "to": today.isoformat(),
    }
    page = client.get(reverse("generations:usage"), params).context["page_obj"]
    start, end = day_range(today - timedelta(days=10), today)
    expected = CreditEntry.objects.filter(
        account__user=member, kind="capture", created_at__gte=start, created_at__lt=end
    )
    assert [e.pk for e in page.object_list] == list(expected.values_list("pk", flat=True))
    truth = balance_after_each(member)
    assert all(e.running_balance == truth[e.pk] for e in page.object_list)


def test_a_reversed_range_is_an_error_next_to_the_form(member_client):
    response = member_client.get(
        reverse("generations:usage"), {"from": "2026-03-10", "to": "2026-03-01"}
    )
    assert response.status_code == 200
    assert b"The start date must be on or before the end date." in response.content
    csv_response = member_client.get(
        reverse("generations:statement_csv"), {"from": "2026-03-10", "to": "2026-03-01"}
    )
    assert csv_response.status_code == 400


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "1900-01-01"}, b"Choose a date between 2000 and 2100."),
        ({"from": "2001-01-01", "to": "2020-01-01"}, b"Choose a range of at most ten years."),
        ({"to": "not a date"}, b"Enter a valid date."),
    ],
)
def test_bad_ranges_are_refused_with_a_message(manager_client, params, message):
    for name in ("generations:usage", "generations:team_spend"):
        response = manager_client.get(reverse(name), params)
        assert response.status_code == 200
        assert message in response.content, name
    for name in ("generations:statement_csv", "generations:team_spend_csv"):
        assert manager_client.get(reverse(name), params).status_code == 400, name


# --- CSV -----------------------------------------------------------------------------------


def test_statement_csv_is_streamed_and_its_totals_match_the_page(client, activity):
    member = activity[1]
    client.force_login(member)
    today = local_today()
    params = {"from": (today - timedelta(days=20)).isoformat(), "to": today.isoformat()}
    totals = client.get(reverse("generations:usage"), params).context["totals"]
    rows = csv_rows(client.get(reverse("generations:statement_csv"), params))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[:4] == ["created_at", "entry", "kind", "amount_credits"]
    assert total[0] == "TOTAL"
    assert int(total[1]) == totals.entries == len(body) > 0
    assert int(total[4]) == totals.balance_change == sum(int(r[4]) for r in body)
    assert int(total[5]) == totals.held_change
    assert (
        int(total[7])
        == totals.spent
        == spent_between(*day_range(today - timedelta(days=20), today), user=member)
    )
    truth = balance_after_each(member)
    assert all(int(r[6]) == truth[int(r[1])] for r in body)


def test_statement_csv_with_a_kind_filter_keeps_every_balance(client, activity):
    member = activity[0]
    client.force_login(member)
    params = {"kind": "capture"}
    totals = client.get(reverse("generations:usage"), params).context["totals"]
    body_and_total = csv_rows(client.get(reverse("generations:statement_csv"), params))[1:]
    body, total = body_and_total[:-1], body_and_total[-1]
    assert {row[2] for row in body} == {"capture"}
    assert int(total[1]) == totals.entries == len(body) > 0
    assert int(total[7]) == totals.spent == spent_between(None, None, user=member)
    truth = balance_after_each(member)
    assert all(int(row[6]) == truth[int(row[1])] for row in body)


def test_csv_text_cannot_run_as_a_spreadsheet_formula(member_client, member):
    from generations.services.ledger import credits_grant

    credits_grant(user=member, amount=10, actor=None, memo='=HYPERLINK("http://x","y")')
    rows = csv_rows(member_client.get(reverse("generations:statement_csv")))
    assert rows[1][9] == '\'=HYPERLINK("http://x","y")'
    assert rows[1][3] == "10"  # numbers stay numbers


def test_team_csv_is_streamed_and_its_totals_match_the_page_and_ledger(manager_client, activity):
    today = local_today()
    params = {
        "from": (today - timedelta(days=35)).isoformat(),
        "to": today.isoformat(),
        "period": "week",
    }
    report = manager_client.get(reverse("generations:team_spend"), params).context["report"]
    rows = csv_rows(manager_client.get(reverse("generations:team_spend_csv"), params))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header == [
        "period_start",
        "member",
        "provider",
        "mode",
        "resolution",
        "sound",
        "jobs",
        "spent_credits",
        "spent_usd",
    ]
    expected = spent_between(*day_range(today - timedelta(days=35), today))
    assert total[0] == "TOTAL"
    assert int(total[7]) == report.credits == expected == sum(int(r[7]) for r in body) > 0
    assert int(total[6]) == report.captures
    assert Decimal(total[8]) == report.usd == Decimal(expected) / 1000
    assert {r[1] for r in body} == {m.username for m in activity}
    assert all(date.fromisoformat(r[0]).weekday() == 0 for r in body)  # weeks start on Monday
    # Per provider, the rows add up to the page's breakdown.
    assert {r[2] for r in body} == {"apixo", "aivideoapi"}
    for group in report.by_provider:
        mine = [r for r in body if r[2] == group.key]
        assert sum(int(r[7]) for r in mine) == group.credits > 0
        assert sum(int(r[6]) for r in mine) == group.jobs


def test_team_page_totals_equal_the_ledger(manager_client, activity):
    today = local_today()
    params = {
        "from": (today - timedelta(days=13)).isoformat(),
        "to": today.isoformat(),
        "period": "day",
    }
    response = manager_client.get(reverse("generations:team_spend"), params)
    report = response.context["report"]
    assert report.credits == spent_between(*day_range(today - timedelta(days=13), today)) > 0
    assert len(report.buckets) == 14
    assert f'data-testid="team-spent">{report.credits:,}<'.encode() in response.content
    assert b"No spend in this period" not in response.content


def test_team_page_member_filter(manager_client, activity):
    member = activity[1]
    response = manager_client.get(reverse("generations:team_spend"), {"member": member.pk})
    report = response.context["report"]
    assert [m.username for m in report.members] == [member.username]
    today = local_today()
    assert report.credits == spent_between(
        *day_range(today - timedelta(days=29), today), user=member
    )
    assert f'<option value="{member.pk}" selected>'.encode() in response.content


def test_team_page_splits_spend_by_provider(manager_client, activity):
    today = local_today()
    response = manager_client.get(reverse("generations:team_spend"))
    report = response.context["report"]
    start, end = day_range(today - timedelta(days=29), today)
    credits = {g.key: g.credits for g in report.by_provider}
    assert credits == {
        "apixo": spent_between(start, end, provider="apixo"),
        "aivideoapi": spent_between(start, end, provider="aivideoapi"),
    }
    assert all(credits.values())
    assert sum(credits.values()) == report.credits
    content = response.content.decode()
    assert 'data-testid="provider-table"' in content
    assert 'id="chart-providers"' in content  # two providers spent: a chart compares them
    for group in report.by_provider:
        link = f'<a href="?provider={group.key}">{group.label}</a>'
        assert f'<tr data-provider="{group.key}"><th scope="row">{link}</th>' in content
        assert f'<td class="num">{group.credits:,}</td>' in content


@pytest.mark.parametrize("provider", ["apixo", "aivideoapi"])
def test_team_page_and_csv_provider_filter(manager_client, activity, provider):
    today = local_today()
    params = {"provider": provider, "period": "week"}
    response = manager_client.get(reverse("generations:team_spend"), params)
    report = response.context["report"]
    expected = spent_between(*day_range(today - timedelta(days=29), today), provider=provider)
    assert report.provider == provider
    assert report.credits == expected > 0
    assert [g.key for g in report.by_provider] == [provider]
    assert f'<option value="{provider}" selected>'.encode() in response.content
    assert b'id="chart-providers"' not in response.content  # one bar would be the total
    rows = csv_rows(manager_client.get(reverse("generations:team_spend_csv"), params))
    body, total = rows[1:-1], rows[-1]
    assert {r[2] for r in body} == {provider}
    assert int(total[7]) == expected == sum(int(r[7]) for r in body)
    assert int(total[6]) == report.captures


def test_an_unknown_provider_is_refused_with_a_message(manager_client, activity):
    response = manager_client.get(reverse("generations:team_spend"), {"provider": "acme"})
    assert response.status_code == 200
    assert response.context["report"].provider is None  # the whole team's spend instead
    assert b"Select a valid choice." in response.content
    csv_response = manager_client.get(reverse("generations:team_spend_csv"), {"provider": "acme"})
    assert csv_response.status_code == 400


def test_team_page_empty_state(manager_client):
    response = manager_client.get(reverse("generations:team_spend"))
    assert response.status_code == 200
    assert b"No spend in this period" in response.content


# --- Provider balances ---------------------------------------------------------------------


def balance_card(response, provider: str) -> str:
    """Return the inner HTML of ``provider``'s balance card on the team page."""
    match = re.search(
        rf'data-testid="provider-balance" data-provider="{provider}">(.*?)</article>',
        response.content.decode(),
        re.DOTALL,
    )
    assert match, provider
    return match.group(1)


def test_each_providers_balance_is_shown_and_cached(manager_client, fake_providers):
    first = manager_client.get(reverse("generations:team_spend"))
    assert [b.provider for b in first.context["balances"]] == ["apixo", "aivideoapi"]
    apixo = balance_card(first, "apixo")
    assert "Provider account (APIXO)" in apixo and "<strong>US$74.87</strong>" in apixo
    aivideoapi = balance_card(first, "aivideoapi")
    assert "Provider account (aivideoapi.ai)" in aivideoapi
    assert "<strong>9,800 credits · US$49.00</strong>" in aivideoapi
    assert b"top up the provider account" not in first.content
    manager_client.get(reverse("generations:team_spend"))
    # The second load used each provider's 60 s cache.
    assert (fake_providers.apixo.calls, fake_providers.aivideoapi.calls) == (1, 1)


def test_the_page_never_waits_for_a_provider(manager_client, fake_providers, monkeypatch):
    """Review of issue #12: the page read balances from the provider inside the request (up to
    its timeouts when the provider hangs). Now it shows the stored reading and queues one
    refresh for a worker."""
    from generations.services import provider_balances as service

    queued = []
    monkeypatch.setattr(service, "enqueue", lambda task, **kw: queued.append(task))
    response = manager_client.get(reverse("generations:team_spend"))
    assert (fake_providers.apixo.calls, fake_providers.aivideoapi.calls) == (0, 0)
    assert queued == ["refresh_provider_balances"]
    assert "<strong>not read yet</strong>" in balance_card(response, "apixo")
    manager_client.get(reverse("generations:team_spend"))
    assert queued == ["refresh_provider_balances"]  # once a minute, not once a page


def test_only_configured_providers_have_a_card(manager_client, fake_providers, settings):
    settings.AIVIDEOAPI_API_KEY = ""
    response = manager_client.get(reverse("generations:team_spend"))
    assert response.content.count(b'data-testid="provider-balance"') == 1
    assert "US$74.87" in balance_card(response, "apixo")
    assert fake_providers.aivideoapi.calls == 0


def test_a_low_balance_warns_on_its_own_card(manager_client, settings):
    settings.PROVIDER_BALANCE_WARNING_USD = Decimal("60")
    response = manager_client.get(reverse("generations:team_spend"))
    assert [b.low for b in response.context["balances"]] == [False, True]
    assert "top up" not in balance_card(response, "apixo")
    low = balance_card(response, "aivideoapi")
    assert "9,800 credits · US$49.00" in low
    assert "Below US$60.00: top up the provider account" in low
    assert b'class="stat-warning" data-testid="provider-balance" data-provider="aivideoapi"' in (
        response.content
    )


def test_both_balances_below_the_threshold_warn(manager_client, settings):
    settings.PROVIDER_BALANCE_WARNING_USD = Decimal("100")
    response = manager_client.get(reverse("generations:team_spend"))
    for provider in ("apixo", "aivideoapi"):
        assert "Below US$100.00: top up the provider account" in balance_card(response, provider)


@pytest.mark.parametrize(("failing", "working"), [("apixo", "aivideoapi"), ("aivideoapi", "apixo")])
def test_a_failing_provider_is_unavailable_and_the_other_still_shows(
    manager_client, fake_providers, failing, working
):
    getattr(fake_providers, failing).error = ProviderConnectionError(
        "The video service cannot be reached."
    )
    response = manager_client.get(reverse("generations:team_spend"))
    assert response.status_code == 200
    balances = {b.provider: b for b in response.context["balances"]}
    assert not balances[failing].available and balances[working].available
    card = balance_card(response, failing)
    assert "<strong>unavailable</strong>" in card
    assert "The video service cannot be reached." in card
    assert "US$" not in card
    assert "unavailable" not in balance_card(response, working)
    assert "US$" in balance_card(response, working)


def test_the_warning_threshold_setting_is_parsed_as_dollars(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from seedance_site.settings import _usd

    monkeypatch.setenv("PROVIDER_BALANCE_WARNING_USD", "12.50")
    assert _usd("PROVIDER_BALANCE_WARNING_USD", default="20") == Decimal("12.50")
    monkeypatch.delenv("PROVIDER_BALANCE_WARNING_USD")
    assert _usd("PROVIDER_BALANCE_WARNING_USD", default="20") == Decimal("20")
    for bad in ("twenty", "-1", "NaN", "inf"):
        monkeypatch.setenv("PROVIDER_BALANCE_WARNING_USD", bad)
        with pytest.raises(ImproperlyConfigured):
            _usd("PROVIDER_BALANCE_WARNING_USD", default="20")


# --- Query counts --------------------------------------------------------------------------


def _team_of(size: int, ledger) -> None:
    """``size`` members, each with a grant and one captured job (about 4 entries each), a
    third of the jobs run by aivideoapi.ai."""
    now = timezone.now()
    for i in range(size):
        member = UserFactory(username=f"q{size}-{i}")
        ledger.grant(member, 1_000, now - timedelta(days=2))
        ledger.job(
            member,
            price=40 + i % 7,
            at=now - timedelta(days=1),
            resolution="720p" if i % 2 else "480p",
            provider="aivideoapi" if i % 3 == 0 else "apixo",
        )


def _member_with_jobs(size: int, ledger):
    now = timezone.now()
    member = UserFactory(username=f"busy{size}")
    ledger.grant(member, 100_000, now - timedelta(days=20))
    for i in range(size):
        ledger.job(
            member,
            price=40,
            at=now - timedelta(hours=2 * i + 1),
            outcome=Generation.State.SUCCEEDED if i % 3 else Generation.State.FAILED,
        )
    return member


# Session, user, manager permissions, the credits bar, provider alerts, the provider balance
# readings and the report's own (series, breakdowns, members' spend from two AccountTotals
# queries or one rollup query, the team's jobs by state, the members, the page's jobs).
TEAM_PAGE_QUERIES = 14


def fresh_balance_readings() -> None:
    """Store a fresh balance for every provider, so a page queues no refresh (which the test
    settings' synchronous queue would run inside the request)."""
    for name in PROVIDER_NAMES:
        ProviderBalanceReading.objects.update_or_create(
            provider=name, defaults={"usd": Decimal("50"), "checked_at": timezone.now()}
        )


USAGE_PAGE_QUERIES = 11


@pytest.mark.parametrize("size", [10, 200])
@pytest.mark.parametrize("provider", ["", "aivideoapi"])
def test_team_page_queries_do_not_grow_with_the_team(
    manager_client, ledger, size, provider, django_assert_max_num_queries
):
    _team_of(size, ledger)
    fresh_balance_readings()
    params = {"period": "week", "provider": provider}
    with django_assert_max_num_queries(TEAM_PAGE_QUERIES):
        response = manager_client.get(reverse("generations:team_spend"), params)
    report = response.context["report"]
    assert len(report.members) == size + 1  # and the manager
    assert len(report.by_provider) == (1 if provider else 2)
    with django_assert_max_num_queries(TEAM_PAGE_QUERIES):
        csv_rows(manager_client.get(reverse("generations:team_spend_csv"), params))


@pytest.mark.parametrize("size", [10, 200])
def test_usage_page_queries_do_not_grow_with_the_history(
    client, ledger, size, django_assert_max_num_queries
):
    member = _member_with_jobs(size, ledger)
    client.force_login(member)
    with django_assert_max_num_queries(USAGE_PAGE_QUERIES):
        response = client.get(reverse("generations:usage"), {"page": 2})
    assert (
        response.context["page_obj"].paginator.count
        == CreditEntry.objects.filter(account__user=member).count()
    )
    with django_assert_max_num_queries(USAGE_PAGE_QUERIES):
        csv_rows(client.get(reverse("generations:statement_csv")))


def test_query_counts_are_equal_for_10_and_200(client, ledger):
    """The same page costs exactly as many queries with a small and a large history."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (10, 200):
        member = _member_with_jobs(size, ledger)
        _team_of(size // 10, ledger)
        # Fresh for each size: building 200 jobs can take over a minute on a loaded machine.
        fresh_balance_readings()
        client.force_login(member)
        with CaptureQueriesContext(connection) as usage:
            client.get(reverse("generations:usage"))
        manager = ManagerFactory()
        client.force_login(manager)
        with CaptureQueriesContext(connection) as team:
            client.get(reverse("generations:team_spend"))
        with CaptureQueriesContext(connection) as one_provider:
            client.get(reverse("generations:team_spend"), {"provider": "aivideoapi"})
        with CaptureQueriesContext(connection) as team_csv:
            csv_rows(client.get(reverse("generations:team_spend_csv")))
        counts.append((len(usage), len(team), len(one_provider), len(team_csv)))
    assert counts[0] == counts[1]
