"""``seed_demo`` never leaves a known superuser password on a production site by accident."""

import pytest
from django.core.management import CommandError, call_command

from generations.models import CreditEntry, User

pytestmark = pytest.mark.django_db


def test_with_debug_off_it_refuses_and_writes_nothing(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo")

    assert not User.objects.filter(username__in=["manager", "member"]).exists()
    assert not CreditEntry.objects.exists()


def test_with_debug_off_the_operator_can_insist(settings):
    settings.DEBUG = False

    call_command("seed_demo", "--allow-production", "--password", "a-staging-password-1")

    manager = User.objects.get(username="manager")
    assert manager.is_superuser and manager.check_password("a-staging-password-1")


def test_in_development_it_creates_the_demo_users_once(settings):
    settings.DEBUG = True

    call_command("seed_demo")
    call_command("seed_demo")

    assert User.objects.get(username="member").check_password("seedance-demo")
    assert CreditEntry.objects.filter(kind="grant").count() == 2
