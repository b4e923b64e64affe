"""The admin as an operations console: filters, actions through services, read-only ledger
and audit log, price edits that publish a version, constant queries on the lists."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from generations.models import AuditEntry, CreditEntry, Generation, Price, PriceTable
from generations.services.audit import audit_record
from generations.services.ledger import credits_hold

from ..factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db


def held_job(state="queued", **fields) -> Generation:
    member = UserFactory(credits=1000)
    generation = GenerationFactory(user=member, state=state, **fields)
    credits_hold(user=member, amount=generation.price_credits, generation=generation)
    return generation


def test_cancel_queued_releases_only_queued_jobs(admin_client):
    queued, submitted = held_job("queued"), held_job("submitted", provider_task_id="task_1")
    admin_client.post(
        reverse("admin:generations_generation_changelist"),
        {"action": "cancel_queued", "_selected_action": [queued.pk, submitted.pk]},
    )
    queued.refresh_from_db(), submitted.refresh_from_db()
    assert (queued.state, submitted.state) == ("canceled", "submitted")
    assert CreditEntry.objects.filter(generation=queued, kind="release").count() == 1
    assert not CreditEntry.objects.filter(generation=submitted, kind="release").exists()


def test_the_stuck_filter_lists_only_jobs_needing_a_look(admin_client):
    from datetime import timedelta

    from django.utils import timezone

    old = timezone.now() - timedelta(hours=2)
    stuck = held_job("submitting", created_at=old, next_action_at=old)
    fresh = held_job("submitted", provider_task_id="task_2", next_action_at=timezone.now())
    unsaved = GenerationFactory(state="succeeded", result_state="failed")
    page = admin_client.get(reverse("admin:generations_generation_changelist"), {"stuck": "yes"})
    shown = {g.pk for g in page.context["cl"].result_list}
    assert shown == {stuck.pk, unsaved.pk}
    assert fresh.pk not in shown


def test_the_ledger_and_audit_log_are_read_only(admin_client):
    for model in ("creditentry", "auditentry", "invitation"):
        assert admin_client.get(reverse(f"admin:generations_{model}_add")).status_code == 403


def test_a_price_edit_publishes_a_version_and_is_audited(admin_client):
    price = Price.objects.filter(table=PriceTable.objects.current(), resolution="720p").first()
    versions = PriceTable.objects.count()
    admin_client.post(
        reverse("admin:generations_price_change", args=[price.pk]),
        {"credits_per_second": price.credits_per_second + 5},
    )
    assert PriceTable.objects.count() == versions + 1
    audit = AuditEntry.objects.get(action="price")
    ((label, old),) = audit.before.items()
    assert "720p" in label and old == price.credits_per_second
    assert audit.after[label] == price.credits_per_second + 5


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:generations_generation_changelist",
        "admin:generations_user_changelist",
        "admin:generations_creditentry_changelist",
    ],
)
def test_admin_lists_issue_a_constant_number_of_queries(
    admin_client, django_assert_max_num_queries, url_name
):
    def build(count):
        for _ in range(count):
            held_job("queued")

    build(10)
    with django_assert_max_num_queries(12) as small:
        assert admin_client.get(reverse(url_name)).status_code == 200
    build(90)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert admin_client.get(reverse(url_name)).status_code == 200


def build_audit_rows(count: int) -> None:
    """``count`` audit rows, each by its own manager about its own member (so a missing
    ``select_related`` would cost a query per row)."""
    for _ in range(count):
        actor, member = UserFactory(), UserFactory()
        audit_record(
            actor=actor,
            action=AuditEntry.Action.CAP,
            target_user=member,
            before={"monthly_cap_credits": None},
            after={"monthly_cap_credits": 500},
            memo=f"cap for {member.username}",
        )


@pytest.mark.parametrize(
    ("url_name", "rows_of"),
    [
        ("admin:generations_auditentry_changelist", lambda page: page.context["cl"].result_list),
        ("team:audit", lambda page: page.context["entries"]),
    ],
)
def test_the_audit_log_renders_many_rows_in_a_constant_number_of_queries(
    admin_client, url_name, rows_of
):
    """Issue #12 item 16: 5 rows and 50 rows cost the same queries, and are really shown."""
    counts = []
    for total in (5, 50):
        build_audit_rows(total - AuditEntry.objects.count())
        with CaptureQueriesContext(connection) as queries:
            page = admin_client.get(reverse(url_name))
        assert page.status_code == 200
        body = page.content.decode()
        shown = list(rows_of(page))
        assert len(shown) == total
        for entry in shown:
            assert f"cap for {entry.target_user.username}" in body
            assert entry.actor.username in body
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_saving_a_price_unchanged_publishes_nothing(admin_client):
    """Save without an edit: no new table version and no audit row claiming a price change."""
    price = Price.objects.filter(table=PriceTable.objects.current(), resolution="720p").first()
    versions = PriceTable.objects.count()
    response = admin_client.post(
        reverse("admin:generations_price_change", args=[price.pk]),
        {"credits_per_second": price.credits_per_second},
    )
    assert response.status_code == 302
    assert PriceTable.objects.count() == versions
    assert not AuditEntry.objects.filter(action="price").exists()


def test_an_expire_during_the_submit_keeps_the_task_for_late_looks(api, make_job, admin_user):
    """A manager expires a job while its submit request is out (state ``submitting``): the
    hold is released, the provider still starts (and bills) the task. Its taskId must stay
    on the expired job so the late looks can find a result the portal paid for; it used to
    be dropped, leaving no trace of the task."""
    import json

    from generations.services.console import generation_expire
    from generations.services.lifecycle import generation_submit

    from ..fake_apixo import SUBMIT_URL, envelope

    generation = make_job()

    def provider_accepts_while_a_manager_expires(request):
        assert generation_expire(generation_id=generation.pk, actor=admin_user)
        return 200, {}, json.dumps(envelope({"taskId": "task_late"}))

    api.add_callback("POST", SUBMIT_URL, callback=provider_accepts_while_a_manager_expires)

    assert generation_submit(generation_id=generation.pk) == ""
    generation.refresh_from_db()
    assert generation.state == "expired"
    assert generation.provider_task_id == "task_late"
    assert generation.next_action_at is not None  # a late look is due
    assert CreditEntry.objects.filter(generation=generation, kind="release").count() == 1


def test_rates_edited_together_on_the_list_publish_one_version(admin_client):
    """Three rates changed in one list save: one new version holding all three, audited once."""
    current = PriceTable.objects.current()
    prices = list(Price.objects.filter(table=current).order_by("pk"))
    edited = {price.pk: price.credits_per_second + 1 for price in prices[:3]}
    data = {
        "form-TOTAL_FORMS": str(len(prices)),
        "form-INITIAL_FORMS": str(len(prices)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for n, price in enumerate(prices):
        data[f"form-{n}-id"] = str(price.pk)
        data[f"form-{n}-credits_per_second"] = str(edited.get(price.pk, price.credits_per_second))

    response = admin_client.post(reverse("admin:generations_price_changelist"), data)

    assert response.status_code == 302
    new = PriceTable.objects.current()
    assert new.version == current.version + 1
    rates = {
        (p.provider, p.model_id, p.resolution, p.sound): p.credits_per_second
        for p in new.prices.all()
    }
    for price in prices:
        key = (price.provider, price.model_id, price.resolution, price.sound)
        assert rates[key] == edited.get(price.pk, price.credits_per_second)
    assert AuditEntry.objects.filter(action="price").count() == 1
