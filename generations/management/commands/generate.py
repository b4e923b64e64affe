"""``manage.py generate``: submit one generation for a user from the shell.

Goes through the same form and services as the web page (price, hold, enqueue on commit).
Bad input exits 2 with the form's messages. Without ``--wait`` it prints the job as JSON at
once (state ``queued``); with ``--wait`` it blocks until the job is final and its video is
stored (a running ``qcluster`` does the work), prints the JSON and exits 0 on success, 1 on
a failed, canceled or expired job.
"""

import json
import time

from django.core.management.base import BaseCommand, CommandError

from generations.catalog import UnsupportedRequest
from generations.forms import GenerationForm
from generations.models import Generation, User
from generations.services.generations import generation_create
from generations.services.ledger import InsufficientCredits


def generation_json(generation: Generation) -> dict:
    """Return the fields scripts rely on; ``result_file`` is an absolute path or None."""
    return {
        "id": generation.pk,
        "state": generation.state,
        "mode": generation.mode,
        "price_credits": generation.price_credits,
        "provider_task_id": generation.provider_task_id,
        "fail_code": generation.fail_code or None,
        "fail_message": generation.fail_message or None,
        "result_file": generation.result_file.path if generation.has_video else None,
    }


class Command(BaseCommand):
    help = "Submit one video generation for USER; --wait prints the final state as JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", required=True, help="Username of the member to charge.")
        parser.add_argument("--mode", default="text-to-video")
        parser.add_argument("--prompt", required=True)
        parser.add_argument("--resolution", default="720p")
        parser.add_argument("--duration", default="8", help="Seconds, 4-12.")
        parser.add_argument(
            "--sound", action="store_true", default=False, help="Generate sound (default off)."
        )
        parser.add_argument("--no-sound", dest="sound", action="store_false")
        parser.add_argument("--aspect-ratio", default="16:9")
        parser.add_argument("--fixed-lens", action="store_true", help="Lock the camera.")
        parser.add_argument("--wait", action="store_true", help="Block until the job is final.")
        parser.add_argument(
            "--timeout", type=float, default=900.0, help="Seconds --wait waits at most."
        )

    def handle(self, *args, **options) -> None:
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {options['user']!r}.", returncode=2)
        form = GenerationForm(
            data={
                "mode": options["mode"],
                "prompt": options["prompt"],
                "resolution": options["resolution"],
                "duration": options["duration"],
                "sound": "on" if options["sound"] else "off",
                "aspect_ratio": options["aspect_ratio"],
                "camera_fixed": options["fixed_lens"],
            }
        )
        if not form.is_valid():
            lines = [
                f"{'error' if field == '__all__' else '--' + field.replace('_', '-')}: {message}"
                for field, messages in form.errors.items()
                for message in messages
            ]
            raise CommandError("\n".join(lines), returncode=2)
        try:
            generation = generation_create(user=user, spec=form.to_spec())
        except (InsufficientCredits, UnsupportedRequest) as error:
            raise CommandError(str(error), returncode=2) from error
        if options["wait"]:
            generation = self._wait(generation, timeout=options["timeout"])
        self.stdout.write(json.dumps(generation_json(generation)))
        if generation.is_final and generation.state != Generation.State.SUCCEEDED:
            raise CommandError(generation.fail_message or generation.state, returncode=1)
        if options["wait"] and not generation.has_video:
            raise CommandError("The video was generated but could not be stored.", returncode=1)

    def _wait(self, generation: Generation, *, timeout: float) -> Generation:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            generation.refresh_from_db()
            done_downloading = generation.result_state != Generation.ResultState.PENDING
            if generation.is_final and done_downloading:
                return generation
            time.sleep(0.5)
        raise CommandError(
            f"Generation {generation.pk} is still {generation.state} after {timeout:.0f} s "
            "(is a qcluster running?).",
            returncode=1,
        )
