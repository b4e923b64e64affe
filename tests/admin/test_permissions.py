"""Who may do what in the admin (issue #12 items 6, 7, 9 and 17).

A matrix of the admin's actions over four kinds of staff: the allowed ones are offered and
succeed with an audit row naming the actor; the others are not offered, and a forged POST
is refused with nothing written.
"""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from generations.models import (
    AuditEntry,
    CreditEntry,
    Generation,
    Price,
    PriceTable,
    ProviderAlert,
    ProviderCircuit,
    User,
)
from generations.services.ledger import credits_hold

from ..factories import GenerationFactory, UserFactory
from ..fake_apixo import STATUS_URL, envelope, task_data
from .conftest import ROLES

pytestmark = pytest.mark.django_db

ACTORS = {"superuser", "staff_manager"}  # the roles allowed to act


def held_job(**fields) -> Generation:
    owner = UserFactory(credits=1000)
    generation = GenerationFactory(user=owner, **fields)
    credits_hold(user=owner, amount=generation.price_credits, generation=generation)
    return generation


def _cancel(api):
    job = held_job(state="queued")
    return job, lambda job: job.state == "canceled", "cancel"


def _expire(api):
    job = held_job(state="submitted", provider_task_id="task_9")
    return job, lambda job: job.state == "expired", "expire"


def _poll(api):
    api.get(STATUS_URL, json=envelope(task_data("task_7", "processing")))
    job = held_job(state="submitted", provider_task_id="task_7")
    return job, lambda job: job.poll_count == 1, "poll"


def _retry(api):
    job = held_job(state="succeeded", result_state="failed", provider_task_id="task_8")
    return job, lambda job: job.result_state == "pending", "download_retry"


GENERATION_ACTIONS = {
    "cancel_queued": _cancel,
    "release_stuck": _expire,
    "poll_now": _poll,
    "retry_download": _retry,
}
CHANGELIST = "admin:generations_generation_changelist"


def offered_actions(response) -> set[str]:
    """The actions the changelist offers (none at all: no action form)."""
    form = response.context["action_form"]
    return set() if form is None else {name for name, _ in form.fields["action"].choices}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", GENERATION_ACTIONS)
def test_generation_actions_by_role(
    client, as_role, api, role, action, django_capture_on_commit_callbacks
):
    job, done, audit_action = GENERATION_ACTIONS[action](api)
    entries_before = CreditEntry.objects.count()
    user = as_role(role)

    page = client.get(reverse(CHANGELIST))
    # What the request queued on commit runs too (the poll runs on a worker).
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse(CHANGELIST), {"action": action, "_selected_action": [job.pk]}, follow=True
        )
    job.refresh_from_db()

    if role in ACTORS:
        assert action in offered_actions(page)
        assert done(job), (action, role)
        audit = AuditEntry.objects.get(action=audit_action)
        assert (audit.actor, audit.target_user) == (user, job.user)
        assert audit.subject == f"Generation #{job.pk}"
        assert audit.before != audit.after  # the values the action changed
        return
    if role == "viewer":  # can look, not act
        assert page.status_code == 200 and job.pk in {g.pk for g in page.context["cl"].result_list}
        assert action not in offered_actions(page)
    else:
        assert page.status_code == 403
        assert response.status_code == 403
    assert not done(job), (action, role)
    assert not AuditEntry.objects.exists()
    assert CreditEntry.objects.count() == entries_before
    assert not [c for c in api.calls if c.request.url.startswith(STATUS_URL)]


@pytest.mark.parametrize("role", ["superuser", "staff_manager"])
def test_a_managers_cancel_puts_the_manager_on_the_refund_entry(client, as_role, api, role):
    job, _, _ = _cancel(api)
    user = as_role(role)
    client.post(reverse(CHANGELIST), {"action": "cancel_queued", "_selected_action": [job.pk]})
    release = CreditEntry.objects.get(generation=job, kind="release")
    assert release.actor == user
    audit = AuditEntry.objects.get(action="cancel")
    assert (audit.before["state"], audit.after["state"]) == ("queued", "canceled")


@pytest.mark.parametrize("role", ROLES)
def test_resolving_a_provider_alert_by_role(client, as_role, role):
    alert = ProviderAlert.objects.create(provider="apixo", kind="http_401", message="Key refused")
    user = as_role(role)
    url = reverse("admin:generations_provideralert_changelist")
    page = client.get(url)
    client.post(url, {"action": "resolve", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    if role in ACTORS:
        assert "resolve" in offered_actions(page)
        assert alert.resolved_by == user
        audit = AuditEntry.objects.get(action="alert_resolve")
        assert audit.actor == user and f"#{alert.pk}" in audit.subject
        assert (audit.before["resolved"], audit.after["resolved"]) == (False, True)
    else:
        assert page.status_code == 403
        assert alert.resolved_at is None
        assert not AuditEntry.objects.exists()


def test_view_only_on_alerts_can_look_but_not_resolve(client):
    alert = ProviderAlert.objects.create(provider="apixo", kind="http_402", message="No balance")
    looker = UserFactory(is_staff=True)
    looker.user_permissions.add(Permission.objects.get(codename="view_provideralert"))
    client.force_login(looker)
    url = reverse("admin:generations_provideralert_changelist")
    page = client.get(url)
    assert page.status_code == 200 and "resolve" not in offered_actions(page)
    client.post(url, {"action": "resolve", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.resolved_at is None and not AuditEntry.objects.exists()


def a_720p_price() -> Price:
    return Price.objects.filter(table=PriceTable.objects.current(), resolution="720p").first()


@pytest.mark.parametrize("role", ROLES)
def test_publishing_a_price_by_role(client, as_role, role):
    price = a_720p_price()
    versions = PriceTable.objects.count()
    user = as_role(role)
    response = client.post(
        reverse("admin:generations_price_change", args=[price.pk]),
        {"credits_per_second": price.credits_per_second + 5},
    )
    if role in ACTORS:
        assert PriceTable.objects.count() == versions + 1
        assert AuditEntry.objects.get(action="price").actor == user
    else:
        assert response.status_code == 403
        assert PriceTable.objects.count() == versions
        assert not AuditEntry.objects.exists()


def test_publishing_needs_its_own_permission_not_view_or_change_price(client):
    """``change_price`` is not enough: publishing is ``publish_pricetable`` (item 7)."""
    price = a_720p_price()
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_price", "change_price"])
    )
    client.force_login(clerk)
    url = reverse("admin:generations_price_change", args=[price.pk])
    assert client.get(url).status_code == 200  # can look
    response = client.post(url, {"credits_per_second": price.credits_per_second + 5})
    assert response.status_code == 403
    assert PriceTable.objects.count() == 1


MANAGER_LISTS = [
    "generation",
    "creditentry",
    "auditentry",
    "pricetable",
    "price",
    "provideralert",
    "invitation",
]


@pytest.mark.parametrize("model", MANAGER_LISTS)
def test_managers_see_their_lists_and_staff_without_permissions_do_not(client, as_role, model):
    url = reverse(f"admin:generations_{model}_changelist")
    as_role("staff_manager")
    assert client.get(url).status_code == 200
    as_role("plain_staff")
    assert client.get(url).status_code == 403  # is_staff alone opens nothing


@pytest.mark.parametrize("model", ["creditentry", "auditentry", "pricetable", "invitation"])
def test_history_stays_read_only_for_managers(client, as_role, model):
    as_role("staff_manager")
    assert client.get(reverse(f"admin:generations_{model}_add")).status_code == 403
    page = client.get(reverse(f"admin:generations_{model}_changelist"))
    assert "delete_selected" not in offered_actions(page)


def superuser_only_urls() -> list[str]:
    """Every admin list of user administration, django-q2 and axes."""
    urls = [reverse("admin:generations_user_changelist")]
    for model in admin.site._registry:
        if model._meta.app_label in {"auth", "django_q", "axes"}:
            urls.append(
                reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            )
    return urls


def test_user_queue_and_lockout_admin_is_for_superusers_only(client, as_role):
    urls = superuser_only_urls()
    assert any("django_q" in url for url in urls) and any("axes" in url for url in urls)
    manager = as_role("staff_manager")
    # Even a staff manager explicitly given the model permissions stays out.
    manager.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    manager = User.objects.get(pk=manager.pk)
    client.force_login(manager)
    for url in urls:
        assert client.get(url).status_code == 403, url
    index = client.get(reverse("admin:index")).content.decode()
    assert "/admin/generations/generation/" in index
    assert "/admin/generations/user/" not in index and "/admin/django_q/" not in index
    as_role("superuser")
    for url in urls:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", ROLES)
def test_provider_circuits_are_shown_to_those_who_see_provider_alerts(client, as_role, role):
    """A circuit is the other half of a provider alert: the same view permission opens it.
    ``is_staff`` alone opened it by its address before (the index hid it)."""
    ProviderCircuit.objects.create(provider="apixo", reason="http_402")
    as_role(role)
    page = client.get(reverse("admin:generations_providercircuit_changelist"))
    expected = 200 if role in ACTORS else 403
    assert page.status_code == expected


def test_the_resolve_service_checks_the_permission_itself(client):
    """Like the console's services, resolving re-checks ``resolve_provideralert``: a caller
    that forgot to (a new view, a shell script with a user) cannot resolve on a manager's
    word they do not have."""
    from django.core.exceptions import PermissionDenied

    from generations.services.alerts import provider_alert_resolve

    alert = ProviderAlert.objects.create(provider="apixo", kind="http_401", message="Key refused")
    direct = UserFactory(is_staff=True)
    direct.user_permissions.add(Permission.objects.get(codename="manage_team"))
    direct = User.objects.get(pk=direct.pk)
    with pytest.raises(PermissionDenied):
        provider_alert_resolve(alert_id=alert.pk, actor=direct)
    alert.refresh_from_db()
    assert alert.resolved_at is None and not AuditEntry.objects.exists()


def test_the_managers_group_cannot_be_deleted_or_renamed_in_the_admin(admin_client):
    """The team page's "Make manager" and migration 0009 find the group by its name; a
    superuser deleting or renaming it took every manager's rights away at once and made
    "Make manager" fail with a server error."""
    from django.contrib.auth.models import Group

    from generations.models.users import MANAGERS_GROUP

    group = Group.objects.get(name=MANAGERS_GROUP)
    other = Group.objects.create(name="Editors")
    assert admin_client.get(reverse("admin:auth_group_delete", args=[group.pk])).status_code == 403
    admin_client.post(
        reverse("admin:auth_group_changelist"),
        {"action": "delete_selected", "_selected_action": [group.pk], "post": "yes"},
    )
    page = admin_client.get(reverse("admin:auth_group_change", args=[group.pk]))
    assert page.status_code == 200
    admin_client.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": "Bosses", "permissions": list(group.permissions.values_list("pk", flat=True))},
    )
    assert Group.objects.filter(pk=group.pk, name=MANAGERS_GROUP).exists()
    # Other groups stay the superuser's to manage.
    admin_client.post(reverse("admin:auth_group_delete", args=[other.pk]), {"post": "yes"})
    assert not Group.objects.filter(pk=other.pk).exists()


def test_poll_now_on_many_jobs_asks_the_provider_from_the_workers_not_the_request(
    client, staff_manager, api, django_capture_on_commit_callbacks
):
    """A whole page selected must not hold a web thread for a provider call per job."""
    jobs = [held_job(state="submitted", provider_task_id=f"task_{n}") for n in range(120)]
    for n in range(120):
        api.get(STATUS_URL, json=envelope(task_data(f"task_{n}", "processing")))
    client.force_login(staff_manager)

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            reverse(CHANGELIST),
            {"action": "poll_now", "_selected_action": [job.pk for job in jobs]},
            follow=True,
        )

    assert response.status_code == 200
    assert not [c for c in api.calls if c.request.url.startswith(STATUS_URL)]  # none inline
    assert "Queued a status check of 120" in response.content.decode()
    assert AuditEntry.objects.filter(action="poll").count() == 120
    assert len(queued) == 3  # batches of POLL_BATCH (50) jobs, enqueued on commit

    for task in queued:  # the workers' turn (django-q2 runs in sync mode in tests)
        task()

    assert len([c for c in api.calls if c.request.url.startswith(STATUS_URL)]) == 120
    assert set(Generation.objects.values_list("poll_count", flat=True)) == {1}
