"""``manage.py generate``: submit one generation for a user from the shell.

Goes through the same form and services as the web page (price, hold, enqueue on commit).
Bad input exits 2 with the form's messages. Without ``--wait`` it prints the job as JSON at
once (state ``queued``); with ``--wait`` it blocks until the job is final and its video is
stored (a running ``qcluster`` does the work), prints the JSON and exits 0 on success, 1 on
a failed, canceled or expired job.
"""

import argparse
import json
import os
import time
from contextlib import ExitStack

from django.core.files.uploadedfile import UploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from generations.catalog import MAX_IMAGES, Mode, UnsupportedRequest
from generations.forms import GenerationForm
from generations.models import Generation, User
from generations.services.generations import generation_create
from generations.services.inputs import InputsNotConfigured
from generations.services.ledger import LedgerError


def _result_location(generation: Generation) -> str:
    """Return where the stored video is: its absolute path on local storage, else a URL.

    With ``MEDIA_STORAGE=s3`` there is no path; the URL is presigned and valid for
    ``AWS_QUERYSTRING_EXPIRE`` seconds, long enough for the script to fetch the file.
    """
    try:
        return generation.result_file.path
    except NotImplementedError:  # object storage (Storage.path is for local files only)
        return generation.result_file.url


def generation_json(generation: Generation) -> dict:
    """Return the fields scripts rely on; ``result_file`` is a path or URL (see above), or None."""
    return {
        "id": generation.pk,
        "state": generation.state,
        "mode": generation.mode,
        "price_credits": generation.price_credits,
        "provider": generation.provider,
        "model_id": generation.model_id,
        "failover_from": generation.failover_from or None,
        "provider_task_id": generation.provider_task_id,
        "fail_code": generation.fail_code or None,
        "fail_message": generation.fail_message or None,
        "result_file": _result_location(generation) if generation.has_video else None,
    }


def _option_name(field: str) -> str:
    """Return the command-line option a form field comes from, for error messages."""
    options = {
        "__all__": "error",
        "start_image": "--image",
        "start_image_url": "--image",
        "end_image": "--image (second)",
        "end_image_url": "--image (second)",
        "source_video": "--video",
        "source_video_url": "--video",
        "source_generation": "--video",
    }
    return options.get(field, "--" + field.replace("_", "-"))


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
        parser.add_argument("--aspect-ratio", help="Text/image-to-video only (default 16:9).")
        parser.add_argument(
            "--image",
            action="append",
            default=[],
            metavar="PATH_OR_URL",
            help="Image-to-video: the start frame, then optionally the end frame.",
        )
        parser.add_argument(
            "--video",
            metavar="PATH_OR_URL_OR_GENERATION_ID",
            action="append",
            default=[],
            help="Video-extend: a clip file, a public URL, or the id of your finished video.",
        )
        parser.add_argument(
            "--camera-fixed",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Lock the camera (default: on for video-extend, off otherwise).",
        )
        parser.add_argument("--fixed-lens", dest="camera_fixed", action="store_true")
        parser.add_argument("--seed", help="Video-extend only: 0-2147483647.")
        parser.add_argument(
            "--watermark", action="store_true", default=False, help="Video-extend only."
        )
        parser.add_argument(
            "--provider",
            choices=("apixo", "aivideoapi"),
            help=(
                "Where the job runs (issue #7); default: PROVIDER_DEFAULT, or the other "
                "configured provider if the default does not offer the mode and resolution."
            ),
        )
        parser.add_argument("--wait", action="store_true", help="Block until the job is final.")
        parser.add_argument(
            "--timeout", type=float, default=900.0, help="Seconds --wait waits at most."
        )

    def handle(self, *args, **options) -> None:
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(
                gettext("No active user named %(name)r.") % {"name": options["user"]},
                returncode=2,
            )
        with ExitStack() as files_open:
            data, files = self._form_data(options, files_open)
            form = GenerationForm(data=data, files=files, user=user)
            if not form.is_valid():
                lines = [
                    f"{_option_name(field)}: {message}"
                    for field, messages in form.errors.items()
                    for message in messages
                ]
                raise CommandError("\n".join(lines), returncode=2)
            try:
                generation = generation_create(user=user, spec=form.to_spec())
            except (LedgerError, UnsupportedRequest, InputsNotConfigured) as error:
                raise CommandError(str(error), returncode=2) from error
        if options["wait"]:
            generation = self._wait(generation, timeout=options["timeout"])
        self.stdout.write(json.dumps(generation_json(generation)))
        if generation.is_final and generation.state != Generation.State.SUCCEEDED:
            raise CommandError(generation.fail_message or generation.state, returncode=1)
        if options["wait"] and not generation.has_video:
            raise CommandError(_("The video was generated but could not be stored."), returncode=1)

    def _form_data(self, options: dict, files_open: ExitStack) -> tuple[dict, dict]:
        """Map the options onto the web form's fields; local paths become uploads."""
        mode = options["mode"]
        data = {
            "mode": mode,
            "prompt": options["prompt"],
            "resolution": options["resolution"],
            "duration": options["duration"],
            "sound": "on" if options["sound"] else "off",
            "provider": options["provider"] or "",
        }
        files = {}
        if options["aspect_ratio"] is not None:
            data["aspect_ratio"] = options["aspect_ratio"]
        elif mode != Mode.VIDEO_EXTEND:
            data["aspect_ratio"] = "16:9"
        camera_fixed = options["camera_fixed"]
        data["camera_fixed"] = (mode == Mode.VIDEO_EXTEND) if camera_fixed is None else camera_fixed
        if options["seed"] is not None:
            data["seed"] = options["seed"]
        if options["watermark"]:
            data["watermark"] = True
        images, videos = options["image"], options["video"]
        if len(images) > MAX_IMAGES:
            raise CommandError(
                gettext(
                    "--image: give one or two images (start frame, then end frame), not %(count)d."
                )
                % {"count": len(images)},
                returncode=2,
            )
        if len(videos) > 1:
            raise CommandError(_("--video: give exactly one source video."), returncode=2)
        for value, slot in zip(images, ("start_image", "end_image"), strict=False):
            self._input(value, slot, data, files, files_open)
        for value in videos:
            if value.isdigit():
                data["source_generation"] = value
            else:
                self._input(value, "source_video", data, files, files_open)
        return data, files

    @staticmethod
    def _input(value: str, field: str, data: dict, files: dict, files_open: ExitStack) -> None:
        if value.lower().startswith(("http://", "https://")):
            data[f"{field}_url"] = value
            return
        if not os.path.isfile(value):
            raise CommandError(
                gettext("%(option)s: no such file: %(path)s")
                % {"option": _option_name(field), "path": value},
                returncode=2,
            )
        handle = files_open.enter_context(open(value, "rb"))  # noqa: SIM115
        files[field] = UploadedFile(
            handle, name=os.path.basename(value), size=os.path.getsize(value)
        )

    def _wait(self, generation: Generation, *, timeout: float) -> Generation:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            generation.refresh_from_db()
            done_downloading = generation.result_state != Generation.ResultState.PENDING
            if generation.is_final and done_downloading:
                return generation
            time.sleep(0.5)
        raise CommandError(
            gettext(
                "Generation %(id)s is still %(state)s after %(seconds).0f s "
                "(is a qcluster running?)."
            )
            % {"id": generation.pk, "state": generation.state, "seconds": timeout},
            returncode=1,
        )
