"""Forms: the new-generation form shared by the page, the price API and ``generate``.

Each rule comes from the provider pages (``../shared/provider-docs``), through
``generations.catalog``. Error messages live in ``error_messages`` and carry codes.
"""

import uuid

from django import forms
from django.core.exceptions import ValidationError

from . import catalog
from .catalog import Mode
from .services.generations import GenerationSpec

SOUND_CHOICES = [("on", "On"), ("off", "Off")]


class GenerationForm(forms.Form):
    """A text-to-video request with every documented field of ``seedance-1-5-pro``.

    001 "Parameters / input": prompt 3-2500 characters after trimming; resolution 480p or
    720p; duration an integer 4-12; sound a required boolean; aspect ratio one of six;
    ``fixed_lens`` (shown as "Lock the camera").
    """

    error_messages = {
        "prompt_too_short": "Write at least %(min)d characters (not counting spaces at the ends).",
        "prompt_too_long": "Keep the prompt within %(max)d characters; it has %(length)d.",
        "resolution_for_mode": "%(resolution)s is not available for %(mode)s; choose %(allowed)s.",
    }

    # Image-to-video and video-extend arrive with their inputs (uploads, source clips).
    mode = forms.ChoiceField(
        choices=[(Mode.TEXT_TO_VIDEO.value, Mode.TEXT_TO_VIDEO.label)],
        initial=Mode.TEXT_TO_VIDEO,
        widget=forms.HiddenInput,
    )
    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": catalog.PROMPT_MAX_CHARS}),
        strip=True,
        help_text="Describe the scene, the motion and the sound. 3-2500 characters.",
    )
    resolution = forms.ChoiceField(
        choices=[("480p", "480p"), ("720p", "720p"), ("1080p", "1080p")], initial="720p"
    )
    duration = forms.IntegerField(
        min_value=catalog.DURATION_MIN_SECONDS,
        max_value=catalog.DURATION_MAX_SECONDS,
        initial=8,
        label="Duration (seconds)",
        help_text="4 to 12 seconds; billed per second.",
        widget=forms.NumberInput(attrs={"step": 1}),
    )
    sound = forms.TypedChoiceField(
        choices=SOUND_CHOICES,
        coerce=lambda value: value == "on",
        initial="off",
        widget=forms.RadioSelect,
        help_text="Generated ambient sound and music; doubles the price.",
    )
    aspect_ratio = forms.ChoiceField(
        choices=[(r, r) for r in catalog.ASPECT_RATIOS], initial="16:9", label="Aspect ratio"
    )
    camera_fixed = forms.BooleanField(
        required=False, label="Lock the camera", help_text="Keep the camera still (fixed lens)."
    )
    client_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("client_token", uuid.uuid4().hex)

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
                params={"max": catalog.PROMPT_MAX_CHARS, "length": len(prompt)},
            )
        return prompt

    def clean(self) -> dict:
        cleaned = super().clean()
        mode, resolution = cleaned.get("mode"), cleaned.get("resolution")
        if mode and resolution:
            allowed = catalog.resolutions_for(mode=mode)
            if resolution not in allowed:
                self.add_error(
                    "resolution",
                    ValidationError(
                        self.error_messages["resolution_for_mode"],
                        code="resolution_for_mode",
                        params={
                            "resolution": resolution,
                            "mode": Mode(mode).label.lower(),
                            "allowed": " or ".join(allowed),
                        },
                    ),
                )
        return cleaned

    def to_spec(self) -> GenerationSpec:
        """Return the validated request as a ``GenerationSpec`` (call after ``is_valid``)."""
        data = self.cleaned_data
        return GenerationSpec(
            mode=data["mode"],
            prompt=data["prompt"],
            resolution=data["resolution"],
            duration=data["duration"],
            sound=data["sound"],
            aspect_ratio=data["aspect_ratio"],
            camera_fixed=data["camera_fixed"],
        )
