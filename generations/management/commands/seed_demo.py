"""``manage.py seed_demo``: create a demo manager and member with credits (idempotent)."""

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from generations.models import User
from generations.models.users import MANAGERS_GROUP
from generations.services.ledger import credits_grant

DEMO_PASSWORD = "seedance-demo"


class Command(BaseCommand):
    help = "Create the demo users 'manager' and 'member' (password printed) with credits."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--password", default=DEMO_PASSWORD)
        parser.add_argument("--credits", type=int, default=20_000, help="Credits for member.")

    def handle(self, *args, password: str, credits: int, **options) -> None:
        manager = self._user("manager", password, is_staff=True, is_superuser=True)
        manager.groups.add(Group.objects.get(name=MANAGERS_GROUP))
        member = self._user("member", password)
        for user in (manager, member):
            credits_grant(
                user=user,
                amount=credits,
                actor=manager,
                memo="Demo credits",
                idempotency_key=f"demo-grant:{user.username}",
            )
        self.stdout.write(
            "Demo users ready. Log in as 'member' (a team member) or 'manager' "
            f"(admin and spend views), password '{password}'."
        )

    def _user(self, username: str, password: str, **flags) -> User:
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com", **flags}
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
        return user
