"""Admin users of every kind (issue #12 item 17): the admin is not tested as a superuser only.

- ``superuser``: can do everything;
- ``staff_manager``: a Managers-group manager with ``is_staff`` (as the team page's "Make
  manager" leaves them), holding the group's permissions from migration 0009;
- ``viewer``: staff holding only ``generations.view_generation``: can look, not act;
- ``plain_staff``: staff without any permission.
"""

import pytest
from django.contrib.auth.models import Permission

from ..factories import ManagerFactory, UserFactory

ROLES = ("superuser", "staff_manager", "viewer", "plain_staff")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_manager(db):
    return ManagerFactory(username="boss", is_staff=True)


@pytest.fixture
def viewer(db):
    user = UserFactory(username="viewer", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="generations", codename="view_generation")
    )
    return user


@pytest.fixture
def plain_staff(db):
    return UserFactory(username="staff", is_staff=True)


@pytest.fixture
def as_role(client, request):
    """Return a function logging ``client`` in as one of ``ROLES``; returns the user."""

    def login(role: str):
        user = request.getfixturevalue(role)
        client.force_login(user)
        return user

    return login
