"""Forms: the new-generation form shared by the page, the price API and ``generate``.

One form serves the three modes; each mode accepts only its documented fields and a field
of another mode is refused, not silently dropped. Rules come from the provider pages
(``docs/providers/``) through ``generations.catalog``; upload checks live in
``generations.uploads``. Error messages live in ``error_messages`` and carry codes.
"""

import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.core.files import File
from django.utils.formats import number_format
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import catalog, uploads
from ..catalog import Mode, Provider
from ..models import Generation, GenerationInput, User
from ..providers import configured_providers, default_provider, get_provider, providers_for
from ..providers.addresses import resolve_target
from ..providers.errors import DownloadError, DownloadRefused
from ..services.generations import GenerationSpec
from ..services.inputs import (
    InputsNotConfigured,
    InputSpec,
    input_spec_copy,
    stored_inputs_available,
)

SOUND_CHOICES = [("on", _("On")), ("off", _("Off"))]
IMAGE_ACCEPT = "image/jpeg,image/png,image/webp"
VIDEO_ACCEPT = "video/mp4,video/quicktime,video/webm"

# The fields each mode takes besides prompt, resolution, duration and sound.
# docs/providers/apixo.md "Parameters" (text- and image-to-video),
# docs/providers/apixo.md "Parameters" (video-extend).
MODE_FIELDS = {
    Mode.TEXT_TO_VIDEO: {"aspect_ratio", "camera_fixed"},
    Mode.IMAGE_TO_VIDEO: {
        "aspect_ratio",
        "camera_fixed",
        "start_image",
        "start_image_url",
        "end_image",
        "end_image_url",
    },
    Mode.VIDEO_EXTEND: {
        "camera_fixed",
        "source_video",
        "source_video_url",
        "source_generation",
        "seed",
        "watermark",
    },
}
OPTIONAL_FIELDS = set().union(*MODE_FIELDS.values()) - {"camera_fixed"}

# The portal's words for Django's own field checks (issue #15 item 6): the price box and the
# field errors show these, never "Ensure this value is greater than or equal to 4."
DURATION_MESSAGE = format_lazy(
    _("Choose a whole number of seconds from {min} to {max}."),
    min=catalog.DURATION_MIN_SECONDS,
    max=catalog.DURATION_MAX_SECONDS,
)
SEED_MESSAGE = format_lazy(
    _("A seed is a whole number from {min} to {max}."), min=catalog.SEED_MIN, max=catalog.SEED_MAX
)
URL_MESSAGES = {
    "invalid": _("Give a full web address, such as https://example.com/frame.jpg."),
    "max_length": _("Keep the address within %(limit_value)d characters."),
}


def _join_or(items) -> str:
    """Join ``items`` with the active language's "or": "480p or 720p"."""
    word = gettext("or")
    return f" {word} ".join(str(item) for item in items)


class GenerationForm(forms.Form):
    """A request in any of the three modes, with every documented field.

    docs/providers/apixo.md "Parameters": prompt 3-2500 characters after trimming; resolution 480p
    or 720p; duration an integer 4-12; sound a required boolean; aspect ratio one of six;
    ``fixed_lens`` ("Lock the camera"); ``image_urls`` 1-2 JPG/PNG/WebP images, the first
    the start frame, the second the end frame. docs/providers/apixo.md "Parameters": exactly one
    source video, resolution up to 1080p, ``camera_fixed`` (default on), ``seed`` 0-2147483647,
    ``watermark``; no aspect ratio (the output adapts to the source).

    Provider (issue #7): one of the configured providers that offers the mode and
    resolution; 1080p text/image-to-video is aivideoapi.ai's only
    (docs/providers/aivideoapi.md "Model"), extend APIXO's only. Left empty, ``PROVIDER_DEFAULT``
    decides (``providers.default_provider``).

    Args:
        user: the member asking; needed to use their own generations as inputs.
    """

    error_messages = {
        "prompt_too_short": _(
            "Write at least %(min)d characters (not counting spaces at the ends)."
        ),
        "prompt_too_long": _(
            "Keep the prompt within %(max)s characters; it has %(length)s. Nothing was cut."
        ),
        "resolution_for_mode": _(
            "%(resolution)s is not available for %(mode)s; choose %(allowed)s."
        ),
        "provider_for_mode": _("%(provider)s does not offer %(mode)s; choose %(allowed)s."),
        "resolution_for_provider": _(
            "%(provider)s does not offer %(resolution)s for %(mode)s; choose %(allowed)s."
        ),
        "not_for_mode": _("%(mode)s does not take this field."),
        "aspect_ratio_required": _("Choose an aspect ratio."),
        "file_and_url": _("Upload a file or give a URL, not both."),
        "start_frame_required": _("Add a start frame: upload an image or give its public URL."),
        "end_without_start": _("An end frame needs a start frame; add the start frame first."),
        "source_required": _(
            "Choose the video to extend: one of yours, an uploaded clip or a public URL."
        ),
        "one_source": _("Give exactly one source video."),
        "one_value": _("Give one value only."),
        "not_your_generation": _(
            "Choose one of your own finished videos or one shared in the team library."
        ),
        "url_refused": _("%(reason)s Give a public http(s) address."),
        "url_unresolved": _("The host name in this URL could not be found."),
    }

    mode = forms.ChoiceField(
        choices=Mode.choices,
        initial=Mode.TEXT_TO_VIDEO,
        error_messages={
            "required": _("Choose a mode."),
            "invalid_choice": _("Choose text-to-video, image-to-video or video-extend."),
        },
    )
    provider = forms.ChoiceField(
        choices=Provider.choices,
        required=False,
        widget=forms.RadioSelect,
        label=_("Provider"),
        help_text=_("Same model, different price; only providers offering your settings."),
        error_messages={
            "invalid_choice": _("%(value)s is not configured here; choose an offered provider.")
        },
    )
    prompt = forms.CharField(
        # No ``maxlength``: a browser would silently cut a pasted prompt. The page counts and
        # flags it instead (generation_form.js); ``clean_prompt`` refuses it on submit.
        widget=forms.Textarea(attrs={"rows": 4}),
        strip=True,
        help_text=_("Describe the scene, the motion and the sound. 3-2500 characters."),
        error_messages={
            "required": _("Write a prompt: describe the scene, the motion and the sound.")
        },
    )
    resolution = forms.ChoiceField(
        choices=[("480p", "480p"), ("720p", "720p"), ("1080p", "1080p")],
        initial="720p",
        error_messages={
            "required": _("Choose a resolution."),
            "invalid_choice": _("Choose 480p, 720p or 1080p."),
        },
    )
    duration = forms.IntegerField(
        min_value=catalog.DURATION_MIN_SECONDS,
        max_value=catalog.DURATION_MAX_SECONDS,
        initial=8,
        label=_("Duration (seconds)"),
        help_text=_("4 to 12 seconds; billed per second."),
        widget=forms.NumberInput(attrs={"step": 1}),
        error_messages={
            "required": DURATION_MESSAGE,
            "invalid": DURATION_MESSAGE,
            "min_value": DURATION_MESSAGE,
            "max_value": DURATION_MESSAGE,
            "step_size": DURATION_MESSAGE,
        },
    )
    sound = forms.TypedChoiceField(
        choices=SOUND_CHOICES,
        coerce=lambda value: value == "on",
        initial="off",
        widget=forms.RadioSelect,
        help_text=_("Generated ambient sound and music; costs more per second."),
        error_messages={
            "required": _("Choose sound on or off."),
            "invalid_choice": _("Choose sound on or off."),
        },
    )
    aspect_ratio = forms.ChoiceField(
        choices=[("", "-"), *((r, r) for r in catalog.ASPECT_RATIOS)],
        required=False,
        initial="16:9",
        label=_("Aspect ratio"),
        error_messages={
            "invalid_choice": format_lazy(
                _("Choose one of the aspect ratios: {ratios}."),
                ratios=", ".join(catalog.ASPECT_RATIOS),
            )
        },
    )
    camera_fixed = forms.BooleanField(
        required=False, label=_("Lock the camera"), help_text=_("Keep the camera still.")
    )
    start_image = forms.FileField(
        required=False,
        label=_("Start frame"),
        widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}),
        help_text=_("JPG, PNG or WebP, up to 10 MB."),
    )
    start_image_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label=_("or start frame URL"),
        max_length=2000,
        error_messages=URL_MESSAGES,
    )
    end_image = forms.FileField(
        required=False,
        label=_("End frame (optional)"),
        widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}),
        help_text=_("The video ends on this image."),
    )
    end_image_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label=_("or end frame URL"),
        max_length=2000,
        error_messages=URL_MESSAGES,
    )
    source_generation = forms.IntegerField(required=False, widget=forms.HiddenInput)
    source_video = forms.FileField(
        required=False,
        label=_("Source clip"),
        widget=forms.ClearableFileInput(attrs={"accept": VIDEO_ACCEPT}),
        help_text=format_lazy(
            _("MP4, MOV or WebM, up to {mb} MB, {minutes} minutes and 4K ({long} x {short})."),
            mb=uploads.VIDEO_MAX_BYTES // uploads.MB,
            minutes=uploads.VIDEO_MAX_SECONDS // 60,
            long=uploads.VIDEO_MAX_LONG_SIDE,
            short=uploads.VIDEO_MAX_SHORT_SIDE,
        ),
    )
    source_video_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label=_("or source video URL"),
        max_length=2000,
        error_messages=URL_MESSAGES,
    )
    seed = forms.IntegerField(
        required=False,
        label=_("Seed"),
        min_value=catalog.SEED_MIN,
        max_value=catalog.SEED_MAX,
        help_text=_("Optional, 0-2147483647: the same seed gives a similar continuation."),
        error_messages={
            "invalid": SEED_MESSAGE,
            "min_value": SEED_MESSAGE,
            "max_value": SEED_MESSAGE,
        },
    )
    watermark = forms.BooleanField(
        required=False, label=_("Keep the provider's watermark"), help_text=_("Where supported.")
    )
    # docs/prices.md "Variations": one submission, 1-4 jobs, each held on its own.
    variations = forms.TypedChoiceField(
        choices=[(n, str(n)) for n in range(1, catalog.VARIATIONS_MAX + 1)],
        coerce=int,
        empty_value=1,
        required=False,
        initial=1,
        label=_("Variations"),
        help_text=format_lazy(
            _(
                "1 to {max} videos from these settings, each charged on its own; different"
                " seeds where the provider takes one."
            ),
            max=catalog.VARIATIONS_MAX,
        ),
        error_messages={
            "invalid_choice": format_lazy(
                _("Choose 1 to {max} variations."), max=catalog.VARIATIONS_MAX
            ),
        },
    )
    inputs_from = forms.IntegerField(required=False, widget=forms.HiddenInput)
    client_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    # The id of the identical recent job the member was shown and chose to repeat anyway
    # (the page's duplicate confirmation, issue #12 item 5).
    confirm_duplicate = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user: User | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.input_specs: tuple[InputSpec, ...] = ()
        self.source: Generation | None = None
        self.reused_from: Generation | None = None
        # Issue #7: only configured providers (a key, or the simulator) are offered.
        configured = configured_providers()
        self.fields["provider"].choices = [
            (value, label) for value, label in Provider.choices if value in configured
        ]
        if not self.is_bound:
            self.initial.setdefault("client_token", uuid.uuid4().hex)

    # --- field by field ----------------------------------------------------------------

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"]
        if len(prompt) < catalog.PROMPT_MIN_CHARS:
            raise ValidationError(
                self.error_messages["prompt_too_short"],
                code="prompt_too_short",
                params={"min": catalog.PROMPT_MIN_CHARS},
            )
        if len(prompt) > catalog.PROMPT_MAX_CHARS:
            raise ValidationError(
                self.error_messages["prompt_too_long"],
                code="prompt_too_long",
                params={
                    "max": number_format(catalog.PROMPT_MAX_CHARS, force_grouping=True),
                    "length": number_format(len(prompt), force_grouping=True),
                },
            )
        return prompt

    def clean_start_image_url(self) -> str:
        return self._public_url("start_image_url")

    def clean_end_image_url(self) -> str:
        return self._public_url("end_image_url")

    def clean_source_video_url(self) -> str:
        return self._public_url("source_video_url")

    def _public_url(self, name: str) -> str:
        """Refuse a URL that is not public HTTP(S) (docs/architecture.md "What must hold").

        Checked on the resolved address; the configured simulator's host is the only
        loopback address allowed (the provider could not fetch anything else local).
        """
        url = self.cleaned_data[name]
        if self._posted_count(name) > 1:
            raise self._error("one_value")
        if not url:
            return ""
        allowed_loopback = frozenset().union(
            *(get_provider(name).download_allow_hosts() for name in configured_providers())
        )
        try:
            resolve_target(url, allow_loopback_hosts=allowed_loopback)
        except DownloadRefused as error:
            raise self._error("url_refused", reason=error.message) from error
        except DownloadError as error:
            raise self._error("url_unresolved") from error
        return url

    def _posted_count(self, name: str) -> int:
        """Return how many values were posted for ``name`` (a crafted form may send two)."""
        count = 0
        for source in (self.data, self.files):
            if hasattr(source, "getlist"):
                count += len([v for v in source.getlist(name) if v not in ("", None)])
            elif source.get(name) not in ("", None):
                count += 1
        return count

    # --- the form as a whole -----------------------------------------------------------

    def clean(self) -> dict:
        cleaned = super().clean()
        mode = cleaned.get("mode")
        if not mode:
            return cleaned
        self._check_resolution(mode, cleaned.get("resolution"))
        if "resolution" not in self.errors:
            cleaned["provider"] = self._check_provider(
                mode, cleaned.get("resolution"), cleaned.get("provider")
            )
        for name in OPTIONAL_FIELDS - MODE_FIELDS[Mode(mode)]:
            if self._given(name):
                self.add_error(name, self._error("not_for_mode", mode=Mode(mode).label))
        framed = mode in (Mode.TEXT_TO_VIDEO, Mode.IMAGE_TO_VIDEO)
        if framed and not cleaned.get("aspect_ratio") and "aspect_ratio" not in self.errors:
            self.add_error("aspect_ratio", self._error("aspect_ratio_required"))
        if self.errors:
            return cleaned
        self.reused_from = self._reused_generation()
        if mode == Mode.IMAGE_TO_VIDEO:
            self.input_specs = self._image_inputs()
        elif mode == Mode.VIDEO_EXTEND:
            self.input_specs = self._video_input()
        return cleaned

    def _check_resolution(self, mode: str, resolution: str | None) -> None:
        """Refuse a resolution that no configured provider offers for ``mode``."""
        allowed = [r for r in ("480p", "720p", "1080p") if providers_for(mode=mode, resolution=r)]
        if resolution and resolution not in allowed:
            self.add_error(
                "resolution",
                self._error(
                    "resolution_for_mode",
                    resolution=resolution,
                    mode=Mode(mode).label.lower(),
                    allowed=_join_or(allowed),
                ),
            )

    def _check_provider(self, mode: str, resolution: str | None, provider: str) -> str:
        """Return the provider for the job: the member's choice, or the operator's default.

        The choice must offer the mode and resolution (issue #7: 1080p text/image-to-video
        only at aivideoapi.ai, video-extend only at APIXO); the error names the ones that do.
        """
        if not provider:
            return default_provider(mode=mode, resolution=resolution) or ""
        mode_label = Mode(mode).label.lower()
        if provider not in providers_for(mode=mode):
            allowed = _join_or([Provider(p).label for p in providers_for(mode=mode)])
            self.add_error(
                "provider",
                self._error(
                    "provider_for_mode",
                    provider=Provider(provider).label,
                    mode=mode_label,
                    allowed=allowed,
                ),
            )
        elif resolution and provider not in providers_for(mode=mode, resolution=resolution):
            others = [Provider(p).label for p in providers_for(mode=mode, resolution=resolution)]
            word = gettext("or")
            own = catalog.resolutions_for(mode=mode, provider=provider)
            self.add_error(
                "resolution",
                self._error(
                    "resolution_for_provider",
                    provider=Provider(provider).label,
                    resolution=resolution,
                    mode=mode_label,
                    allowed=_join_or(own) + "".join(f", {word} {p}" for p in others),
                ),
            )
        return provider

    def _given(self, name: str) -> bool:
        value = self.cleaned_data.get(name)
        return not (value is None or value is False or value == "")

    def _error(self, code: str, **params) -> ValidationError:
        return ValidationError(self.error_messages[code], code=code, params=params or None)

    def _reused_generation(self) -> Generation | None:
        """Return the member's generation named by ``inputs_from`` ("Generate again")."""
        pk = self.cleaned_data.get("inputs_from")
        if pk is None or self.user is None:
            return None
        return Generation.objects.for_user(self.user).filter(pk=pk).first()

    def _reused_input(self, kind: str, position: int) -> GenerationInput | None:
        if self.reused_from is None:
            return None
        return next(
            (i for i in self.reused_from.inputs.all() if (i.kind, i.position) == (kind, position)),
            None,
        )

    def _image_inputs(self) -> tuple[InputSpec, ...]:
        specs = []
        for position, slot in enumerate(("start_image", "end_image")):
            spec = self._image_slot(slot, position)
            if spec is not None:
                specs.append(spec)
            elif position == 0 and "start_image" not in self.errors:
                end_given = self._given("end_image") or self._given("end_image_url")
                code = "end_without_start" if end_given else "start_frame_required"
                self.add_error("start_image", self._error(code))
        if len(specs) != len({s.position for s in specs}) or (specs and specs[0].position != 0):
            return ()
        return tuple(specs)

    def _image_slot(self, slot: str, position: int) -> InputSpec | None:
        upload, url = self.cleaned_data.get(slot), self.cleaned_data.get(f"{slot}_url")
        if upload and url:
            self.add_error(slot, self._error("file_and_url"))
            return None
        if url:
            return InputSpec(kind="image", position=position, url=url, name=url[-255:])
        if upload:
            try:
                image = uploads.clean_image_upload(upload)
            except uploads.UploadRejected as error:
                self.add_error(slot, ValidationError(error.message, code=error.code))
                return None
            if not self._public_address_ready(slot):
                return None
            return InputSpec(
                kind="image",
                position=position,
                content=image.content,
                name=f"{slot.replace('_', '-')}.{image.extension}",
                content_type=image.content_type,
                size_bytes=image.size_bytes,
                thumbnail=image.thumbnail,
            )
        reused = self._reused_input("image", position)
        return input_spec_copy(reused) if reused is not None else None

    def _video_input(self) -> tuple[InputSpec, ...]:
        upload = self.cleaned_data.get("source_video")
        url = self.cleaned_data.get("source_video_url")
        source_pk = self.cleaned_data.get("source_generation")
        posted = sum(self._posted_count(n) for n in ("source_video", "source_video_url"))
        if posted + (source_pk is not None) > 1:
            self.add_error("source_video", self._error("one_source"))
            return ()
        if url:
            return (InputSpec(kind="video", url=url, name=url[-255:]),)
        if upload:
            try:
                video = uploads.clean_video_upload(upload)
            except uploads.UploadRejected as error:
                self.add_error("source_video", ValidationError(error.message, code=error.code))
                return ()
            if not self._public_address_ready("source_video"):
                return ()
            return (
                InputSpec(
                    kind="video",
                    content=File(upload),
                    name=f"source.{video.extension}",
                    content_type=video.content_type,
                    size_bytes=video.size_bytes,
                ),
            )
        if source_pk is not None:
            return self._source_video(source_pk)
        reused = self._reused_input("video", 0)
        if reused is not None:
            source = self.reused_from.source_generation if self.reused_from else None
            if source is not None and not self._extendable().filter(pk=source.pk).exists():
                # Generate again on an extension of a video unshared since.
                self.add_error("source_video", self._error("not_your_generation"))
                return ()
            self.source = source
            return (input_spec_copy(reused),)
        self.add_error("source_video", self._error("source_required"))
        return ()

    def _extendable(self):
        """Return the stored videos the member may extend: their own and the team library's."""
        if self.user is None:
            return Generation.objects.none()
        return Generation.objects.extendable_by(self.user)

    def _source_video(self, pk: int) -> tuple[InputSpec, ...]:
        """Use a stored result as the source: the member's own, or one shared with the team.

        docs/gallery.md "Extending a shared video": the new job is the member's, held and
        charged to them; a video unshared (or never shared) by another member is refused.
        """
        source = self._extendable().filter(pk=pk).first()
        if source is None:
            self.add_error("source_video", self._error("not_your_generation"))
            return ()
        if not self._public_address_ready("source_video"):
            return ()
        self.source = source
        extension = source.result_file.name.rsplit(".", 1)[-1]
        content_type = {"webm": "video/webm", "mov": "video/quicktime"}.get(extension, "video/mp4")
        return (
            InputSpec(
                kind="video",
                stored_name=source.result_file.name,
                name=gettext("Generation #%(id)s") % {"id": source.pk},
                content_type=content_type,
                size_bytes=source.result_bytes,
            ),
        )

    def _public_address_ready(self, field: str) -> bool:
        """Tell whether a stored input can get a public URL; if not, say so on ``field``."""
        if stored_inputs_available():
            return True
        self.add_error(field, ValidationError(InputsNotConfigured.message, code="no_public_url"))
        return False

    def ask_to_confirm(self, earlier: Generation) -> None:
        """Prepare the bound form to be shown again, asking to confirm a repeat of ``earlier``.

        The hidden ``confirm_duplicate`` then carries ``earlier``'s id, so posting the form
        again goes through. A browser does not send a chosen file twice, so uploaded inputs
        are taken from ``earlier`` (``inputs_from``): they are the same bytes, which is what
        made it a duplicate. Call after ``is_valid``.
        """
        data = self.data.copy()
        data["confirm_duplicate"] = str(earlier.pk)
        if any(spec.content is not None for spec in self.input_specs):
            data["inputs_from"] = str(earlier.pk)
        self.data = data

    @property
    def variation_count(self) -> int:
        """Return how many jobs the member asked for (1-4; call after ``is_valid``)."""
        return self.cleaned_data.get("variations") or 1

    def to_spec(self) -> GenerationSpec:
        """Return the validated request as a ``GenerationSpec`` (call after ``is_valid``)."""
        data = self.cleaned_data
        extend = data["mode"] == Mode.VIDEO_EXTEND
        return GenerationSpec(
            mode=data["mode"],
            prompt=data["prompt"],
            resolution=data["resolution"],
            duration=data["duration"],
            sound=data["sound"],
            aspect_ratio="" if extend else data["aspect_ratio"],
            camera_fixed=data["camera_fixed"],
            provider=data["provider"],
            seed=data.get("seed") if extend else None,
            watermark=bool(data.get("watermark")) if extend else False,
            source_generation=self.source if extend else None,
            inputs=self.input_specs,
        )
