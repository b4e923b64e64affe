"""What each provider's model accepts: modes, resolutions, aspect ratios and bounds.

One source for the forms, the price table, the clients and the simulator's expectations.
Every rule names the section of ``docs/providers/`` it comes from.
"""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Mode(models.TextChoices):
    TEXT_TO_VIDEO = "text-to-video", _("Text to video")
    IMAGE_TO_VIDEO = "image-to-video", _("Image to video")
    VIDEO_EXTEND = "video-extend", _("Extend a video")


class Provider(models.TextChoices):
    APIXO = "apixo", "APIXO"
    AIVIDEOAPI = "aivideoapi", "aivideoapi.ai"


# docs/providers/apixo.md "Overview": prompt 3-2500 characters after trimming, duration 4-12 s.
PROMPT_MIN_CHARS = 3
PROMPT_MAX_CHARS = 2500
DURATION_MIN_SECONDS = 4
DURATION_MAX_SECONDS = 12
# docs/providers/apixo.md "Overview": aspect ratios; docs/providers/apixo.md "Overview" says extend
# has no public aspect_ratio field.
ASPECT_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9", "21:9")
# docs/providers/apixo.md "Parameters".
SEED_MIN = 0
SEED_MAX = 2_147_483_647
# docs/prices.md "Variations": one submission makes 1-4 jobs, each held and charged on its own.
VARIATIONS_MAX = 4
# docs/providers/apixo.md "Overview": 1-2 reference images for image-to-video; the second is the end
# frame.
MAX_IMAGES = 2


@dataclass(frozen=True)
class ModelSpec:
    """One provider model serving one mode, with the resolutions its docs allow."""

    provider: str
    model_id: str
    mode: str
    resolutions: tuple[str, ...]


MODEL_SPECS: tuple[ModelSpec, ...] = (
    # docs/providers/apixo.md "Parameters": "backend validation accepts only 480p and 720p".
    ModelSpec(Provider.APIXO, "seedance-1-5-pro", Mode.TEXT_TO_VIDEO, ("480p", "720p")),
    ModelSpec(Provider.APIXO, "seedance-1-5-pro", Mode.IMAGE_TO_VIDEO, ("480p", "720p")),
    # docs/providers/apixo.md "Overview": 480p, 720p, 1080p.
    ModelSpec(
        Provider.APIXO, "seedance-1-5-pro-extend", Mode.VIDEO_EXTEND, ("480p", "720p", "1080p")
    ),
    # docs/providers/aivideoapi.md "Model": 480p, 720p, 1080p; no video_urls.
    ModelSpec(
        Provider.AIVIDEOAPI,
        "doubao-seedance-1.5-pro",
        Mode.TEXT_TO_VIDEO,
        ("480p", "720p", "1080p"),
    ),
    ModelSpec(
        Provider.AIVIDEOAPI,
        "doubao-seedance-1.5-pro",
        Mode.IMAGE_TO_VIDEO,
        ("480p", "720p", "1080p"),
    ),
)


class UnsupportedRequest(ValueError):
    """Raised when no provider model serves a mode at a resolution."""


def model_spec(*, provider: str, mode: str) -> ModelSpec:
    """Return the model that ``provider`` uses for ``mode``.

    Raises:
        UnsupportedRequest: the provider does not offer the mode (e.g. extend on aivideoapi.ai).
    """
    for spec in MODEL_SPECS:
        if spec.provider == provider and spec.mode == mode:
            return spec
    raise UnsupportedRequest(
        gettext("%(provider)s does not offer %(mode)s.")
        % {"provider": Provider(provider).label, "mode": Mode(mode).label}
    )


def resolutions_for(*, mode: str, provider: str = Provider.APIXO) -> tuple[str, ...]:
    """Return the resolutions a provider's model accepts for ``mode`` ("480p", ...)."""
    return model_spec(provider=provider, mode=mode).resolutions


def offers(*, provider: str, mode: str, resolution: str | None = None) -> bool:
    """Tell whether ``provider`` has a model for ``mode`` (at ``resolution``, when given).

    1080p text/image-to-video is aivideoapi.ai's only (docs/providers/apixo.md "Parameters",
    docs/providers/aivideoapi.md "Model"); video-extend is APIXO's only
    (docs/providers/aivideoapi.md "Input Object": ``video_urls`` is not supported).
    """
    try:
        spec = model_spec(provider=provider, mode=mode)
    except (UnsupportedRequest, ValueError):
        return False
    return resolution is None or resolution in spec.resolutions


def providers_offering(
    *, mode: str, resolution: str | None = None, among: tuple[str, ...]
) -> tuple[str, ...]:
    """Return the providers of ``among`` that offer ``mode`` (at ``resolution``), in order."""
    return tuple(p for p in among if offers(provider=p, mode=mode, resolution=resolution))


# Fail codes a generation can carry, for the admin's fail-code filter (docs/architecture.md
# "Admin lists at scale"): the portal's own codes, written by the services
# (``services.sweeper``, ``services.console``, ``services.owner_actions``,
# ``services.lifecycle``), then the providers' documented ``failCode`` vocabularies
# (docs/providers/apixo.md "Task failure codes"). Codes outside this list (an aivideoapi.ai
# ``error.code``, ``HTTP_4xx`` refusals, a provider's new code) are "another code".
PORTAL_FAIL_CODES = (
    "CANCELED",
    "EXPIRED",
    "EXPIRED_BY_MANAGER",
    "SUBMIT_ABANDONED",
    "PROVIDER_NOT_CONFIGURED",
    "TASK_NOT_FOUND",
    "INPUTS_NOT_PUBLIC",
    "INVALID_REQUEST",
    "LEDGER_MISMATCH",
)
PROVIDER_FAIL_CODES = (
    "PromptInvalid",
    "SensitiveContent",
    "ImageFormatIncorrect",
    "RateLimited",
    "Timeout",
    "InsufficientBalance",
    "Unknown error",
    "CONTENT_VIOLATION",
    "NSFW_DETECTED",
    "PROMPT_TOO_LONG",
    "INVALID_PROMPT",
    "INVALID_IMAGE_URL",
    "IMAGE_TOO_LARGE",
    "UNSUPPORTED_FORMAT",
    "IMAGE_DOWNLOAD_FAILED",
    "PROCESSING_TIMEOUT",
    "MODEL_UNAVAILABLE",
    "GENERATION_FAILED",
    "INSUFFICIENT_CREDITS",
    "MISSING_REQUIRED_PARAM",
    "INVALID_PARAMETER",
    "API_SERVICE_UNAVAILABLE",
)
FAIL_CODES = PORTAL_FAIL_CODES + PROVIDER_FAIL_CODES

# The portal's explanation of each fail code, shown in the member's language beside the
# failure message, which stays as it was written (the provider's own words are never
# translated: docs/i18n.md "What is not translated, and why"). Several codes of the two
# provider vocabularies mean the same thing and share a sentence. The job page says
# separately that the reserved credits were returned, so these do not repeat it.
_PROMPT_REFUSED = _("The video service did not accept the prompt. Rephrase it and try again.")
_CONTENT_REFUSED = _(
    "The video service's content filter refused the prompt or an input image. Change them "
    "and try again."
)
_FORMAT_REFUSED = _(
    "The video service could not read the format of an input file. Try a JPG, PNG or WebP "
    "image, or an MP4 video."
)
_TOO_SLOW = _(
    "The video service took too long to make the video. Try again; a shorter clip may help."
)
_NO_FUNDS = _(
    "The portal's account at the video service has run out of funds; a manager has to top it "
    "up. Your own credits are not affected. Try again later."
)
_NO_REASON = _(
    "The video service could not make the video and gave no particular reason. Trying again "
    "often works."
)
_SETTING_REFUSED = _(
    "The video service refused one of the job's settings. Change the settings and try again; "
    "if it keeps happening, tell a manager."
)
_UNAVAILABLE = _("The video service was unavailable. Try again later.")
FAIL_EXPLANATIONS = {
    "CANCELED": _("The job was canceled before it was sent to the video service."),
    "EXPIRED": _(
        "No final answer came from the video service in time, so the portal stopped waiting."
    ),
    "EXPIRED_BY_MANAGER": _("A manager stopped this job."),
    "SUBMIT_ABANDONED": _("The portal could not send the job to the video service."),
    "PROVIDER_NOT_CONFIGURED": _(
        "The video service this job was meant for is no longer set up on the portal."
    ),
    "TASK_NOT_FOUND": _("The video service says it has no such job."),
    "INPUTS_NOT_PUBLIC": _(
        "The portal has no public address, so the video service could not fetch the uploaded "
        "inputs. Use a public image or video URL instead, or ask the operator."
    ),
    "INVALID_REQUEST": _(
        "The request broke one of the video service's rules, so it was not sent. Change the "
        "settings and try again."
    ),
    "LEDGER_MISMATCH": _(
        "The credits of this job did not add up, so the portal stopped it; a manager will check it."
    ),
    "PromptInvalid": _PROMPT_REFUSED,
    "SensitiveContent": _CONTENT_REFUSED,
    "ImageFormatIncorrect": _FORMAT_REFUSED,
    "RateLimited": _(
        "The video service received too many requests at once. Try again in a few minutes."
    ),
    "Timeout": _TOO_SLOW,
    "InsufficientBalance": _NO_FUNDS,
    "Unknown error": _NO_REASON,
    "CONTENT_VIOLATION": _CONTENT_REFUSED,
    "NSFW_DETECTED": _CONTENT_REFUSED,
    "PROMPT_TOO_LONG": _(
        "The prompt is longer than the video service accepts. Shorten it and try again."
    ),
    "INVALID_PROMPT": _PROMPT_REFUSED,
    "INVALID_IMAGE_URL": _(
        "The video service could not use the address of an input. Check that the URL is public "
        "and points to the file itself."
    ),
    "IMAGE_TOO_LARGE": _(
        "An input image is larger than the video service accepts. Use a smaller image."
    ),
    "UNSUPPORTED_FORMAT": _FORMAT_REFUSED,
    "IMAGE_DOWNLOAD_FAILED": _(
        "The video service could not download an input image. Check that its address is "
        "public and try again."
    ),
    "PROCESSING_TIMEOUT": _TOO_SLOW,
    "MODEL_UNAVAILABLE": _(
        "The video model was unavailable at the video service. Try again later."
    ),
    "GENERATION_FAILED": _NO_REASON,
    "INSUFFICIENT_CREDITS": _NO_FUNDS,
    "MISSING_REQUIRED_PARAM": _SETTING_REFUSED,
    "INVALID_PARAMETER": _SETTING_REFUSED,
    "API_SERVICE_UNAVAILABLE": _UNAVAILABLE,
}
# ``HTTP_4xx``: the provider refused the request itself (``lifecycle.Outcome.from_error``).
FAIL_EXPLANATION_HTTP = _(
    "The video service refused the request. Check the settings and inputs and try again; if it "
    "keeps happening, tell a manager."
)
FAIL_EXPLANATION_OTHER = _(
    "The video could not be made. Trying again often works; if it keeps failing, tell a manager."
)


def fail_explanation(code: str) -> str:
    """Return the portal's explanation of fail code ``code`` in the active language.

    Looked up as written, then in capitals (aivideoapi.ai's ``error.code`` is lower case:
    ``insufficient_credits``); ``HTTP_4xx`` codes share one sentence; any other code, or
    none, gets a general one. The caller shows it beside ``Generation.fail_message``, which
    stays untranslated (docs/i18n.md "What is not translated, and why").
    """
    found = FAIL_EXPLANATIONS.get(code) or FAIL_EXPLANATIONS.get(code.upper())
    if found is None:
        found = FAIL_EXPLANATION_HTTP if code.startswith("HTTP_") else FAIL_EXPLANATION_OTHER
    return str(found)


def takes_seed(*, provider: str, mode: str) -> bool:
    """Tell whether ``provider``'s model takes a ``seed`` for ``mode``.

    APIXO documents ``seed`` for video-extend only (docs/providers/apixo.md "Overview": "seed
    not offered" for ``seedance-1-5-pro``); aivideoapi.ai for every mode it offers
    (docs/providers/aivideoapi.md "Seed"). Variations get distinct seeds only where this holds
    (docs/prices.md "Variations").
    """
    if provider == Provider.APIXO:
        return mode == Mode.VIDEO_EXTEND
    return provider == Provider.AIVIDEOAPI and offers(provider=provider, mode=mode)
