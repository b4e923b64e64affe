"""Who may act on whom (issue #12 item 8): a manager who is not a superuser acts on members
only; the refusal has a clear message and writes nothing, in the services and on the page."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.urls import reverse

from generations.models import AuditEntry, CreditAccount, CreditEntry, Invitation, User
from generations.models.users import MANAGERS_GROUP
from generations.services.team import (
    TeamError,
    TeamPermissionDenied,
    invitation_create,
    invitation_revoke,
    member_active_set,
    member_cap_set,
    member_manager_set,
    team_credits_grant,
    team_credits_revoke,
)

from ..factories import ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss():
    return ManagerFactory(username="boss", credits=500)


@pytest.fixture
def peer():
    return ManagerFactory(username="peer", credits=500)


@pytest.fixture
def root():
    return UserFactory(username="root", is_staff=True, is_superuser=True, credits=500)


@pytest.fixture
def member():
    return UserFactory(username="ana", credits=500)


# Each team operation, done by ``actor`` to ``target``.
OPERATIONS = {
    "grant": lambda actor, target: team_credits_grant(
        users=[target], amount=100, actor=actor, memo="m"
    ),
    "revoke": lambda actor, target: team_credits_revoke(
        users=[target], amount=100, actor=actor, memo="m"
    ),
    "cap": lambda actor, target: member_cap_set(user=target, cap=1000, actor=actor),
    "deactivate": lambda actor, target: member_active_set(user=target, active=False, actor=actor),
}


def snapshot() -> tuple:
    """Everything a refused operation must leave as it was."""
    return (
        CreditEntry.objects.count(),
        AuditEntry.objects.count(),
        list(CreditAccount.objects.order_by("pk").values_list("balance", "held")),
        list(User.objects.order_by("pk").values_list("is_active", "monthly_cap_credits")),
    )


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("target", ["root", "peer"])
def test_a_manager_cannot_act_on_a_superuser_or_another_manager(request, boss, operation, target):
    victim = request.getfixturevalue(target)
    before = snapshot()
    with pytest.raises(TeamPermissionDenied, match=f"Only a superuser can .* {victim.username}"):
        OPERATIONS[operation](boss, victim)
    assert snapshot() == before


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_manager_acts_on_members_and_a_superuser_on_anyone(boss, peer, root, member, operation):
    OPERATIONS[operation](boss, member)
    OPERATIONS[operation](root, peer)
    assert AuditEntry.objects.filter(actor=boss, target_user=member).count() == 1
    assert AuditEntry.objects.filter(actor=root, target_user=peer).count() == 1


def test_a_manager_cannot_grant_to_themselves(boss):
    before = snapshot()
    with pytest.raises(TeamPermissionDenied, match="cannot grant credits to yourself"):
        team_credits_grant(users=[boss], amount=1_000_000, actor=boss, memo="bonus")
    assert snapshot() == before


def test_a_batch_with_one_forbidden_member_writes_nothing_for_anyone(boss, peer, member):
    before = snapshot()
    with pytest.raises(TeamPermissionDenied, match="peer, a manager"):
        team_credits_grant(users=[member, peer], amount=100, actor=boss, memo="all hands")
    assert snapshot() == before


def test_a_deactivated_manager_is_still_a_manager(boss, peer):
    root = UserFactory(is_superuser=True, is_staff=True)
    member_active_set(user=peer, active=False, actor=root)
    with pytest.raises(TeamPermissionDenied, match="reactivate peer"):
        member_active_set(user=peer, active=True, actor=boss)


def test_a_manager_through_a_direct_permission_counts_too(boss):
    direct = UserFactory(username="direct")
    direct.user_permissions.add(Permission.objects.get(codename="manage_team"))
    with pytest.raises(TeamPermissionDenied, match="direct, a manager"):
        member_cap_set(user=direct, cap=5, actor=boss)


def test_someone_who_is_not_a_manager_can_do_nothing(member):
    other = UserFactory()
    with pytest.raises(TeamPermissionDenied, match="Only managers"):
        team_credits_grant(users=[other], amount=5, actor=member, memo="gift")


class TestManagerRole:
    def test_a_superuser_makes_a_manager_with_admin_access_and_back(self, root, member):
        member_manager_set(user=member, manager=True, actor=root)
        member.refresh_from_db()
        assert member.is_staff and member.groups.filter(name=MANAGERS_GROUP).exists()
        assert User.objects.get(pk=member.pk).is_manager
        member_manager_set(user=member, manager=False, actor=root)
        member.refresh_from_db()
        assert not member.is_staff and not member.groups.exists()
        rows = AuditEntry.objects.filter(target_user=member).order_by("id")
        assert [(r.action, r.after["is_staff"]) for r in rows] == [
            ("manager_add", True),
            ("manager_remove", False),
        ]

    def test_removing_a_manager_also_takes_a_directly_held_manage_team(self, root, member):
        """A manager by the permission held directly (as ``manager_ranks`` counts them) was
        still a manager after "Remove manager", while the audit row said otherwise."""
        member.user_permissions.add(Permission.objects.get(codename="manage_team"))
        member_manager_set(user=member, manager=True, actor=root)
        member_manager_set(user=member, manager=False, actor=root)
        assert not User.objects.get(pk=member.pk).is_manager
        assert not User.objects.get(pk=member.pk).user_permissions.exists()
        audit = AuditEntry.objects.filter(action="manager_remove").get()
        assert (audit.before["manage_team_direct"], audit.after["manage_team_direct"]) == (
            True,
            False,
        )

    def test_only_a_superuser_makes_managers(self, boss, member):
        before = snapshot()
        with pytest.raises(TeamPermissionDenied, match="Only a superuser can make"):
            member_manager_set(user=member, manager=True, actor=boss)
        assert snapshot() == before
        assert not Group.objects.get(name=MANAGERS_GROUP).user_set.filter(pk=member.pk).exists()


class TestPages:
    @pytest.fixture
    def boss_client(self, client, boss):
        client.force_login(boss)
        return client

    def messages_of(self, response) -> list[str]:
        return [str(m) for m in response.context["messages"]]

    @pytest.mark.parametrize(
        ("url_name", "data"),
        [
            ("team:cap", {"monthly_cap_credits": "10"}),
            ("team:active", {"active": "0"}),
            ("team:manager", {"manager": "0"}),
        ],
    )
    def test_refusals_on_the_page_are_messages_and_write_nothing(
        self, boss_client, peer, url_name, data
    ):
        before = snapshot()
        response = boss_client.post(reverse(url_name, args=[peer.pk]), data, follow=True)
        assert response.status_code == 200
        (message,) = self.messages_of(response)
        assert "Only a superuser can" in message
        assert snapshot() == before

    @pytest.mark.parametrize("action", ["grant", "revoke"])
    def test_credits_for_a_manager_are_refused_on_the_page(self, boss_client, root, action):
        before = snapshot()
        response = boss_client.post(
            reverse("team:credits"),
            {"action": action, "members": [root.pk], "amount": "100", "memo": "m"},
            follow=True,
        )
        (message,) = self.messages_of(response)
        assert "root, a superuser" in message
        assert snapshot() == before

    def test_a_self_grant_is_refused_on_the_page(self, boss_client, boss):
        before = snapshot()
        response = boss_client.post(
            reverse("team:credits"),
            {"action": "grant", "members": [boss.pk], "amount": "100", "memo": "me"},
            follow=True,
        )
        assert self.messages_of(response) == ["You cannot grant credits to yourself."]
        assert snapshot() == before

    def test_the_page_offers_a_manager_only_what_they_may_do(self, boss_client, peer, member):
        page = boss_client.get(reverse("team:members")).content.decode()
        assert f'value="{member.pk}" aria-label="Select ana"' in page
        assert 'aria-label="Select peer"' not in page
        assert reverse("team:cap", args=[peer.pk]) not in page
        assert reverse("team:cap", args=[member.pk]) in page
        assert reverse("team:manager", args=[member.pk]) not in page  # superusers only

    def test_a_superuser_makes_a_manager_from_the_page(self, client, root, member):
        client.force_login(root)
        page = client.get(reverse("team:members")).content.decode()
        assert reverse("team:manager", args=[member.pk]) in page
        response = client.post(
            reverse("team:manager", args=[member.pk]), {"manager": "1"}, follow=True
        )
        assert "ana is now a manager" in self.messages_of(response)[0]
        assert User.objects.get(pk=member.pk).is_staff


class TestGrantCommand:
    def test_the_operators_grant_is_audited(self, member):
        call_command("grant_credits", member.username, "250", "--memo", "budget")
        audit = AuditEntry.objects.get(action="grant", target_user=member)
        assert (audit.actor, audit.memo, audit.after["balance"]) == (None, "budget", 750)

    def test_by_a_manager_records_them_and_applies_the_rule(self, boss, member):
        call_command("grant_credits", member.username, "250", "--by", boss.username)
        assert CreditEntry.objects.filter(kind="grant", actor=boss).count() == 1
        before = snapshot()
        with pytest.raises(CommandError, match="cannot grant credits to yourself"):
            call_command("grant_credits", boss.username, "250", "--by", boss.username)
        assert snapshot() == before


class TestInvitations:
    """Withdrawing an invitation follows the same rule: a manager undoes only their own."""

    @pytest.fixture
    def peers_invitation(self, peer, settings):
        settings.PUBLIC_BASE_URL = "https://s.example"
        return invitation_create(
            email="cy@example.com", actor=peer, base_url="https://s.example"
        ).invitation

    def test_a_manager_cannot_withdraw_another_managers_invitation(self, boss, peers_invitation):
        audits = AuditEntry.objects.count()
        with pytest.raises(TeamPermissionDenied, match="Only a superuser or peer can withdraw"):
            invitation_revoke(invitation=peers_invitation, actor=boss)
        assert Invitation.objects.usable().filter(pk=peers_invitation.pk).exists()
        assert AuditEntry.objects.count() == audits

    def test_inviting_the_same_address_does_not_replace_another_managers_invitation(
        self, boss, peer, peers_invitation
    ):
        with pytest.raises(TeamError, match=r"peer has already invited cy@example\.com"):
            invitation_create(email="cy@example.com", actor=boss, base_url="https://s.example")
        assert Invitation.objects.usable().get().pk == peers_invitation.pk
        # The sender may re-send: the old link is withdrawn, audited.
        again = invitation_create(email="cy@example.com", actor=peer, base_url="https://s.example")
        assert Invitation.objects.usable().get().pk == again.invitation.pk
        assert AuditEntry.objects.filter(action="invite_revoke", actor=peer).count() == 1

    def test_the_sender_and_a_superuser_can(self, peer, root, peers_invitation):
        assert invitation_revoke(invitation=peers_invitation, actor=peer)
        again = invitation_create(email="dy@example.com", actor=peer, base_url="https://s.example")
        assert invitation_revoke(invitation=again.invitation, actor=root)

    def test_on_the_page_the_refusal_is_a_message_and_no_button(
        self, client, boss, peers_invitation
    ):
        client.force_login(boss)
        url = reverse("team:invite_revoke", args=[peers_invitation.pk])
        assert url not in client.get(reverse("team:members")).content.decode()
        response = client.post(url, follow=True)
        (message,) = [str(m) for m in response.context["messages"]]
        assert message.startswith("Only a superuser or peer can withdraw")
        assert Invitation.objects.usable().filter(pk=peers_invitation.pk).exists()
