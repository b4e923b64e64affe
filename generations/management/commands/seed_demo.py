"""``manage.py seed_demo``: create a demo manager and member with credits (idempotent).

The demo manager is a superuser with a published password, so with ``DEBUG`` off (production,
docs/architecture.md "Configuration") the command refuses unless ``--allow-production`` says
the operator means it (a throwaway staging site, the deploy tests).
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext

from generations.models import User
from generations.models.users import MANAGERS_GROUP
from generations.services.ledger import credits_grant

DEMO_PASSWORD = "seedance-demo"


class Command(BaseCommand):
    help = "Create the demo users 'manager' and 'member' (password printed) with credits."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--password", default=DEMO_PASSWORD)
        parser.add_argument("--credits", type=int, default=20_000, help="Credits for member.")
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Create the demo users even with DEBUG off (a superuser with a known password).",
        )

    def handle(self, *args, password: str, credits: int, **options) -> None:
        """Create (or keep) the two demo users and grant each ``credits`` once.

        Raises:
            CommandError: ``DEBUG`` is off and ``--allow-production`` was not given; nothing
                is written.
        """
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                gettext(
                    "seed_demo creates a superuser 'manager' with a known password, so it "
                    "refuses to run with DEBUG off. Create real accounts with `manage.py "
                    "createsuperuser`, or pass --allow-production (and --password) on a "
                    "throwaway site."
                )
            )
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
