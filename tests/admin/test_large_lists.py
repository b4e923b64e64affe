"""Admin lists over large tables (issue #14 item 1, docs/architecture.md "Admin lists at scale"):
no whole-table queries for filter choices or the date hierarchy, capped counts shown honestly,
and a search that still finds a job by its prompt, its member and its provider task id."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from generations.admin_lists import CappedCount, CappedCountPaginator
from generations.catalog import FAIL_CODES

from ..factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db

GENERATIONS = "admin:generations_generation_changelist"
LISTS = [
    GENERATIONS,
    "admin:generations_creditentry_changelist",
    "admin:generations_auditentry_changelist",
]


def shown(page) -> set[int]:
    return {row.pk for row in page.context["cl"].result_list}


@pytest.mark.parametrize("url_name", LISTS)
def test_a_list_reads_no_distinct_values_nor_date_bounds(admin_client, url_name):
    """The fail-code choices come from the catalog and there is no date hierarchy: no
    ``SELECT DISTINCT`` and no ``MIN``/``MAX`` over the table."""
    GenerationFactory(state="failed", fail_code="content_policy")
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(reverse(url_name))
    assert page.status_code == 200
    sql = " ".join(query["sql"].upper() for query in queries)
    assert "DISTINCT" not in sql
    assert "MIN(" not in sql and "MAX(" not in sql


def test_the_fail_code_filter_offers_the_catalog(admin_client):
    page = admin_client.get(reverse(GENERATIONS)).content.decode()
    for code in ("TASK_NOT_FOUND", "SensitiveContent", "CONTENT_VIOLATION"):
        assert f'<a href="?fail_code={code}">{code}</a>' in page
    assert '<a href="?fail_code=">No fail code</a>' in page
    assert '<a href="?fail_code=__other__">Another code</a>' in page
    assert len(FAIL_CODES) == len(set(FAIL_CODES))


def test_the_fail_code_filter_still_filters_by_any_code(admin_client):
    known = GenerationFactory(state="failed", fail_code="TASK_NOT_FOUND")
    odd = GenerationFactory(state="failed", fail_code="content_policy")
    none = GenerationFactory(state="succeeded")
    url = reverse(GENERATIONS)
    assert shown(admin_client.get(url, {"fail_code": "TASK_NOT_FOUND"})) == {known.pk}
    assert shown(admin_client.get(url, {"fail_code": "__other__"})) == {odd.pk}
    assert shown(admin_client.get(url, {"fail_code": ""})) == {none.pk}
    exact = admin_client.get(url, {"fail_code": "content_policy"})
    assert shown(exact) == {odd.pk}
    assert "content_policy" in exact.content.decode()  # the chosen code stays visible


def test_the_count_stops_at_the_cap_and_says_so(admin_client, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    for _ in range(5):
        GenerationFactory()
    page = admin_client.get(reverse(GENERATIONS))
    body = page.content.decode()
    assert isinstance(page.context["cl"].result_count, CappedCount)
    assert "3+ generations" in body
    assert "5 generations" not in body
    assert len(shown(page)) == 5  # the page itself still lists every row


def test_an_exact_count_below_the_cap(admin_client):
    for _ in range(2):
        GenerationFactory()
    body = admin_client.get(reverse(GENERATIONS)).content.decode()
    assert "2 generations" in body and "+ generations" not in body


def test_the_lists_show_the_newest_id_first(admin_client):
    first, second = GenerationFactory(), GenerationFactory()
    page = admin_client.get(reverse(GENERATIONS))
    assert [row.pk for row in page.context["cl"].result_list] == [second.pk, first.pk]


def test_search_finds_by_prompt_member_and_task_id(admin_client):
    alice = UserFactory(username="alice")
    lake = GenerationFactory(user=alice, prompt="A Misty Harbour at dawn")
    task = GenerationFactory(state="submitted", provider_task_id="task_abc123", prompt="x y z")
    other = GenerationFactory(prompt="a busy street")
    url = reverse(GENERATIONS)
    assert shown(admin_client.get(url, {"q": "misty harbour"})) == {lake.pk}
    assert shown(admin_client.get(url, {"q": '"MISTY HARBOUR"'})) == {lake.pk}
    assert shown(admin_client.get(url, {"q": "ALIC"})) == {lake.pk}
    assert shown(admin_client.get(url, {"q": "task_abc123"})) == {task.pk}
    assert shown(admin_client.get(url, {"q": "alice dawn"})) == {lake.pk}  # every word
    assert shown(admin_client.get(url, {"q": "alice street"})) == set()
    assert other.pk in shown(admin_client.get(url, {"q": "busy"}))


def test_search_by_a_word_many_members_share(admin_client, monkeypatch):
    """Past ``MAX_LISTED_USERS`` matching members, their ids are read in a subquery."""
    monkeypatch.setattr("generations.admin_lists.MAX_LISTED_USERS", 1)
    jobs = {GenerationFactory(user=UserFactory(username=f"crew{n}")).pk for n in range(3)}
    GenerationFactory(user=UserFactory(username="solo"))
    assert shown(admin_client.get(reverse(GENERATIONS), {"q": "crew"})) == jobs


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigram index is PostgreSQL's")
def test_the_prompt_search_can_use_the_trigram_index(admin_client):
    GenerationFactory(prompt="a quiet lake")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'generation_prompt_upper_trgm'"
        )
        (definition,) = cursor.fetchone()
        assert "gin_trgm_ops" in definition and "upper(prompt)" in definition
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM generations_generation "
            "WHERE UPPER(prompt::text) LIKE UPPER('%%quiet lake%%')"
        )
        plan = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
    assert "generation_prompt_upper_trgm" in plan
