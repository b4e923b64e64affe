"""``manage.py api_token_create USERNAME --name NAME [--expires-days N]``.

Makes a personal access token for the REST API (docs/api.md "Tokens") and prints it alone on
the last line, so a script can take it with ``tail -n 1``. Exits 2 on bad input.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext

from generations.models import User
from generations.services.api_tokens import api_token_create


class Command(BaseCommand):
    help = "Create a personal access token for USERNAME; the token is the last line printed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username", help="The active user the token acts as.")
        parser.add_argument("--name", required=True, help="What the token is for.")
        parser.add_argument(
            "--expires-days", type=int, default=None, help="Days until it expires (default never)."
        )

    def handle(self, *args, **options) -> None:
        user = User.objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(
                gettext("No active user named %(name)r.") % {"name": options["username"]},
                returncode=2,
            )
        try:
            new = api_token_create(
                user=user, name=options["name"], expires_days=options["expires_days"]
            )
        except ValueError as error:
            raise CommandError(str(error), returncode=2) from error
        expiry = (
            f"expires {new.token.expires_at:%Y-%m-%d %H:%M} UTC"
            if new.token.expires_at
            else "never expires"
        )
        self.stdout.write(
            f"Token {new.token.name!r} for {user.username} ({expiry}). It is shown only now:"
        )
        self.stdout.write(new.secret)
