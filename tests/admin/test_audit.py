"""Every manager action lands in the audit log (issue #12 item 9): the admin's account edits,
the banner's alert resolution, grants with the manager on the ledger entry."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from generations.models import AuditEntry, CreditEntry, ProviderAlert
from generations.models.users import MANAGERS_GROUP

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


def change_form_data(page) -> dict:
    """The POST a browser would send back from an admin change page, unchanged."""
    data = {}
    form = page.context["adminform"].form
    for name in form.fields:
        widget_data = form[name].field.widget.format_value(form[name].value())
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list):
            data[name] = [str(v) for v in value]
        elif hasattr(value, "isoformat"):
            local = timezone.localtime(value)
            data[f"{name}_0"] = local.strftime("%Y-%m-%d")
            data[f"{name}_1"] = local.strftime("%H:%M:%S")
        elif value is not None:
            data[name] = widget_data if isinstance(widget_data, str) else str(value)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[f"{formset.prefix}-{name}"] = management[name].value()
        for form in formset.forms:
            for name in ("id", formset.fk.name):
                if name in form.fields and form[name].value() is not None:
                    data[form.add_prefix(name)] = str(form[name].value())
    return data


def test_a_superusers_account_edit_is_audited_with_before_and_after(admin_client, admin_user):
    member = UserFactory(username="ana", credits=10)
    url = reverse("admin:generations_user_change", args=[member.pk])
    data = change_form_data(admin_client.get(url))
    data.pop("is_active", None)  # deactivate
    data["monthly_cap_credits"] = "700"
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    member.refresh_from_db()
    assert (member.is_active, member.monthly_cap_credits) == (False, 700)
    audit = AuditEntry.objects.get(action="account_change")
    assert (audit.actor, audit.target_user) == (admin_user, member)
    assert audit.before == {"is_active": True, "monthly_cap_credits": None}
    assert audit.after == {"is_active": False, "monthly_cap_credits": 700}


def test_an_unchanged_account_save_records_nothing(admin_client):
    member = UserFactory(username="bo")
    url = reverse("admin:generations_user_change", args=[member.pk])
    assert admin_client.post(url, change_form_data(admin_client.get(url))).status_code == 302
    assert not AuditEntry.objects.exists()


def test_resolving_from_the_banner_is_audited(client, manager):
    alert = ProviderAlert.objects.create(provider="apixo", kind="http_402", message="No balance")
    client.force_login(manager)
    client.post(reverse("provider_alert_resolve", args=[alert.pk]), {"next": "/"})
    client.post(reverse("provider_alert_resolve", args=[alert.pk]), {"next": "/"})  # twice
    audit = AuditEntry.objects.get(action="alert_resolve")  # recorded once
    assert audit.actor == manager and audit.memo == "No balance"


def test_a_grant_from_the_team_page_carries_the_manager_on_the_ledger(client, manager):
    member = UserFactory()
    client.force_login(manager)
    client.post(
        reverse("team:credits"),
        {"action": "grant", "members": [member.pk], "amount": "300", "memo": "welcome"},
    )
    entry = CreditEntry.objects.get(account__user=member, kind="grant")
    assert entry.actor == manager
    assert AuditEntry.objects.get(action="grant").actor == manager


def test_adding_someone_to_the_managers_group_in_the_admin_is_audited(admin_client):
    member = UserFactory(username="cy")
    url = reverse("admin:generations_user_change", args=[member.pk])
    data = change_form_data(admin_client.get(url))
    data["groups"] = [str(Group.objects.get(name=MANAGERS_GROUP).pk)]
    assert admin_client.post(url, data).status_code == 302
    audit = AuditEntry.objects.get(action="account_change")
    assert (audit.before, audit.after) == ({"groups": []}, {"groups": [MANAGERS_GROUP]})


def test_the_banner_needs_the_resolve_permission_too(client):
    """A manager by a direct ``manage_team`` grant, without ``resolve_provideralert``."""
    alert = ProviderAlert.objects.create(provider="apixo", kind="http_401", message="Key refused")
    manager = UserFactory()
    manager.user_permissions.add(Permission.objects.get(codename="manage_team"))
    client.force_login(manager)
    response = client.post(reverse("provider_alert_resolve", args=[alert.pk]), {"next": "/"})
    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.resolved_at is None and not AuditEntry.objects.exists()


def test_a_password_set_in_the_admin_is_audited_without_the_password(admin_client, admin_user):
    """The admin's password page changes an account like the change form does; it was the
    one account edit the audit log did not show."""
    member = UserFactory(username="ana")
    secret = "another horse battery 42"
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[member.pk]),
        {"password1": secret, "password2": secret, "usable_password": "true"},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.check_password(secret)
    audit = AuditEntry.objects.get(action="account_change")
    assert (audit.actor, audit.target_user) == (admin_user, member)
    assert audit.after == {"password": "set"}
    assert secret not in str(audit.before) + str(audit.after) + audit.memo


def test_a_refused_password_form_records_nothing(admin_client):
    member = UserFactory(username="ana")
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[member.pk]),
        {"password1": "a", "password2": "b", "usable_password": "true"},
    )
    assert response.status_code == 200
    assert not AuditEntry.objects.exists()
