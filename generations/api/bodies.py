"""Generation request bodies of the REST API: JSON or multipart, into the web form's data.

One validation (docs/api.md "One validation"): the API does not restate any rule of a
generation request. A body is only checked for its JSON shape (known field names, and a
string, whole number or boolean where the form field takes one), then handed to the web
form, ``forms.GenerationForm``, which applies the catalog's bounds, the per-mode fields
(``forms.MODE_FIELDS``), the upload checks and the public-URL guard with the same messages and
codes as the page. The OpenAPI description of the body is built from the same form fields,
``MODE_FIELDS`` and ``catalog``, so the schema and the checks cannot drift apart.

Field names are the form's: ``start_image_url``, ``source_generation``, ... and, in a
multipart body, the files ``start_image``, ``end_image`` and ``source_video``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django import forms
from django.http import HttpRequest, QueryDict
from django.utils import translation
from django.utils.datastructures import MultiValueDict

from .. import catalog
from ..catalog import Mode
from ..forms import MODE_FIELDS, GenerationForm
from .problems import ApiProblem, FieldError, invalid

# Form fields the page uses for itself (the one-time key, "generate again", the duplicate
# question): not part of the API.
WEB_ONLY_FIELDS = frozenset({"client_token", "inputs_from", "confirm_duplicate", "variations"})
# Page fields the API refuses with a reason (docs/api.md "Variations"): one request, one job.
NOT_IN_API = {
    "variations": (
        "The API creates one job per request: send one request per variation, each with its"
        " own Idempotency-Key (and a seed of your choice where the provider takes one)."
    ),
}
FILE_FIELDS = frozenset(
    name for name, f in GenerationForm.base_fields.items() if isinstance(f, forms.FileField)
)
# The form's "sound" is a choice of "on"/"off"; the API says true or false.
_BOOLEAN_CHOICES = {"sound": {True: "on", False: "off"}}
JSON_MAX_BYTES = 64 * 1024


def _json_type(name: str, field: forms.Field) -> str:
    """Return the JSON type the API takes for form field ``name``."""
    if name in _BOOLEAN_CHOICES or isinstance(field, forms.BooleanField):
        return "boolean"
    if isinstance(field, forms.IntegerField):
        return "integer"
    return "string"


# name -> JSON type, for the fields a JSON body may carry (no files there).
JSON_FIELDS = {
    name: _json_type(name, field)
    for name, field in GenerationForm.base_fields.items()
    if name not in WEB_ONLY_FIELDS and name not in FILE_FIELDS
}
MULTIPART_FIELDS = {**JSON_FIELDS, **dict.fromkeys(FILE_FIELDS, "file")}
_TYPE_MESSAGES = {
    "string": "Give a string.",
    "integer": "Give a whole number.",
    "boolean": "Give true or false.",
}


@dataclass(frozen=True)
class ParsedBody:
    """A request body as the web form's ``data`` and ``files``, and its fingerprint.

    Attributes:
        data: form data (a ``QueryDict`` for multipart, so repeated fields stay visible).
        files: uploaded files by form field.
        fingerprint: SHA-256 hex of the canonical body and every file's bytes: equal bodies
            give equal fingerprints (``Idempotency-Key``).
    """

    data: QueryDict | dict
    files: MultiValueDict | dict
    fingerprint: str


def defaults(mode: str) -> dict:
    """Return the values a request of ``mode`` gets for the fields it leaves out.

    The form's own initial values (720p, 8 s, sound off, 16:9), the same the page starts
    with, and the camera lock on for video-extend (docs/providers/apixo.md "Parameters":
    ``camera_fixed`` defaults to true), as on the page and in ``generate``.
    """
    fields = GenerationForm.base_fields
    values = {
        "resolution": fields["resolution"].initial,
        "duration": fields["duration"].initial,
        "sound": fields["sound"].initial,
        "camera_fixed": mode == Mode.VIDEO_EXTEND,
    }
    if mode != Mode.VIDEO_EXTEND:
        values["aspect_ratio"] = fields["aspect_ratio"].initial
    return values


def parse_generation_body(
    request: HttpRequest, *, prompt_default: str = "", only: frozenset[str] | None = None
) -> ParsedBody:
    """Read a generation (or quote) request body into form data.

    Args:
        request: a POST with ``application/json`` or ``multipart/form-data``.
        prompt_default: a prompt to use when the body has none (quotes need no prompt).
        only: the field names taken (others are unknown fields); default all of them.

    Raises:
        ApiProblem: 415 for another content type, 400 for malformed JSON, 422 naming each
            unknown field or value of the wrong JSON type.
    """
    content_type = request.content_type or ""
    if content_type == "application/json":
        return _parse_json(request, prompt_default=prompt_default, only=only)
    if content_type == "multipart/form-data" and only is None:
        return _parse_multipart(request, prompt_default=prompt_default)
    raise ApiProblem(
        415,
        "unsupported-media-type",
        "Send the body as application/json, or as multipart/form-data to upload files.",
    )


def _parse_json(request: HttpRequest, *, prompt_default: str, only) -> ParsedBody:
    raw = request.body
    if len(raw) > JSON_MAX_BYTES:
        raise ApiProblem(413, "too-large", f"A JSON body may be at most {JSON_MAX_BYTES} bytes.")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, RecursionError) as error:
        raise ApiProblem(400, "malformed-json", "The body is not valid JSON.") from error
    if not isinstance(body, dict):
        raise invalid([FieldError(None, "The body must be a JSON object.", "not_an_object")])
    errors = []
    for name, value in body.items():
        expected = JSON_FIELDS.get(name) if only is None or name in only else None
        if expected is None:
            errors.append(FieldError(name, _unknown_field_message(name), _unknown_code(name)))
        elif value is not None and not _has_type(value, expected):
            errors.append(FieldError(name, _TYPE_MESSAGES[expected], "wrong_type"))
        elif value == "":
            errors.append(FieldError(name, "Leave the field out (or null) instead.", "blank"))
    if errors:
        raise invalid(errors)
    given = {
        name: int(value) if isinstance(value, float) else value
        for name, value in body.items()
        if value is not None
    }
    data = _with_defaults(given, prompt_default=prompt_default)
    for name, choices in _BOOLEAN_CHOICES.items():
        if isinstance(data.get(name), bool):
            data[name] = choices[data[name]]
    canonical = json.dumps(given, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return ParsedBody(data=data, files={}, fingerprint=_sha256(canonical.encode()))


def _unknown_code(name: str) -> str:
    return "not_in_api" if name in NOT_IN_API else "unknown_field"


def _unknown_field_message(name: str) -> str:
    if name in NOT_IN_API:
        return NOT_IN_API[name]
    if name in FILE_FIELDS:
        return "Files are uploaded with multipart/form-data; in JSON give the URL field."
    return "Unknown field."


def _has_type(value, expected: str) -> bool:
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":  # JSON Schema: 12.0 is an integer too
        whole_float = isinstance(value, float) and value.is_integer()
        return (isinstance(value, int) and not isinstance(value, bool)) or whole_float
    return isinstance(value, str)


def _with_defaults(given: dict, *, prompt_default: str) -> dict:
    data = dict(given)
    mode = data.get("mode")
    if isinstance(mode, str) and mode in Mode.values:
        for name, value in defaults(mode).items():
            data.setdefault(name, value)
    if prompt_default:
        data.setdefault("prompt", prompt_default)
    return data


def _parse_multipart(request: HttpRequest, *, prompt_default: str) -> ParsedBody:
    posted, files = request.POST, request.FILES
    unknown = sorted((set(posted) | set(files)) - set(MULTIPART_FIELDS))
    misplaced = sorted((set(posted) & FILE_FIELDS) | (set(files) - FILE_FIELDS))
    errors = [FieldError(n, _unknown_field_message(n), _unknown_code(n)) for n in unknown]
    errors += [
        FieldError(n, "Send this field as a file part." if n in FILE_FIELDS else "Not a file.")
        for n in misplaced
        if n not in unknown
    ]
    if errors:
        raise invalid(errors)
    data = posted.copy()
    mode = data.get("mode")
    for name, value in _with_defaults({"mode": mode}, prompt_default=prompt_default).items():
        if name not in data and value is not None:
            data[name] = value if isinstance(value, str) else _multipart_text(name, value)
    for name, choices in _BOOLEAN_CHOICES.items():
        text = data.get(name)
        if isinstance(text, str) and text.lower() in ("true", "false"):
            data[name] = choices[text.lower() == "true"]
    digest = hashlib.sha256()
    for name in sorted(posted):
        digest.update(json.dumps([name, posted.getlist(name)]).encode())
    for name in sorted(files):
        for upload in files.getlist(name):
            file_digest = hashlib.sha256()
            for chunk in upload.chunks():
                file_digest.update(chunk)
            upload.seek(0)
            digest.update(json.dumps([name, file_digest.hexdigest()]).encode())
    return ParsedBody(data=data, files=files, fingerprint=digest.hexdigest())


def _multipart_text(name: str, value) -> str:
    if isinstance(value, bool):
        return _BOOLEAN_CHOICES.get(name, {True: "true", False: "false"})[value]
    return str(value)


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


# --- OpenAPI description of the body, from the form and the catalog -------------------------


def _property(name: str, *, mode: str, provider: str | None = None) -> dict:
    """Return the JSON schema of form field ``name`` in a request of ``mode`` (at
    ``provider``, which narrows the resolutions, when given)."""
    field = GenerationForm.base_fields[name]
    kind = MULTIPART_FIELDS[name]
    schema: dict = {}
    if kind == "file":
        schema = {"type": "string", "format": "binary"}
    elif kind == "boolean":
        schema = {"type": "boolean"}
    elif kind == "integer":
        schema = {"type": "integer"}
        if field.min_value is not None:
            schema["minimum"] = field.min_value
        if field.max_value is not None:
            schema["maximum"] = field.max_value
    else:
        schema = {"type": "string", "minLength": 1}
        if isinstance(field, forms.URLField):
            schema["format"] = "uri"
            schema["maxLength"] = field.max_length
    if name == "mode":
        schema["enum"] = [mode]
    elif name == "resolution":
        offered = {
            r
            for spec in catalog.MODEL_SPECS
            if spec.mode == mode and provider in (None, spec.provider)
            for r in spec.resolutions
        }
        schema["enum"] = sorted(offered, key=lambda r: int(r.rstrip("p")))
    elif name == "aspect_ratio":
        schema["enum"] = list(catalog.ASPECT_RATIOS)
    elif name == "provider":
        schema["enum"] = [provider]
    elif name == "prompt":
        schema.update(minLength=catalog.PROMPT_MIN_CHARS, maxLength=catalog.PROMPT_MAX_CHARS)
    if field.help_text:
        schema["description"] = str(field.help_text)
    return schema


def _nullable(schema: dict, multipart: bool) -> dict:
    """Let a JSON field be ``null`` (left out); multipart parts have no null."""
    if multipart:
        return schema
    nullable = {**schema, "type": [schema["type"], "null"]}
    if "enum" in nullable:
        nullable["enum"] = [*nullable["enum"], None]
    return nullable


def request_body_schema(
    *, multipart: bool, prompt_required: bool = True, only: frozenset[str] | None = None
) -> dict:
    """Return the JSON schema of a generation body, built from the form and the catalog.

    One alternative (``oneOf``) per mode and provider choice: the provider left out (the
    default decides; every resolution of the mode) or named (its resolutions only), each
    listing the fields ``MODE_FIELDS`` gives the mode, with the catalog's bounds. ``null``
    stands for a field left out (its default applies). Rules across fields (a URL or a
    file, not both; an end frame needs a start frame) and beyond the request (one's own
    finished video, a host name that resolves) are the form's: a body the schema allows may
    still get a 422 naming the field. ``only`` limits the fields (quotes).
    """
    fields = MULTIPART_FIELDS if multipart else JSON_FIELDS
    if only is not None:
        fields = {name: kind for name, kind in fields.items() if name in only}
    required = ["mode", "prompt"] if prompt_required else ["mode"]
    common = ("mode", "prompt", "resolution", "duration", "sound")
    alternatives = []
    for mode in Mode.values:
        names = [n for n in (*common, *sorted(MODE_FIELDS[Mode(mode)])) if n in fields]
        offering = [p for p in catalog.Provider.values if catalog.offers(provider=p, mode=mode)]
        for provider in (None, *offering):
            properties = {
                name: _property(name, mode=mode, provider=provider)
                if name in required
                else _nullable(_property(name, mode=mode, provider=provider), multipart)
                for name in names
            }
            if provider is not None:
                properties["provider"] = _property("provider", mode=mode, provider=provider)
            elif not multipart:
                properties["provider"] = {"type": "null", "description": "The default provider."}
            label = catalog.Provider(provider).label if provider else "the default provider"
            alternatives.append(
                {
                    "type": "object",
                    "title": f"{_english(Mode(mode).label)} at {label}",
                    "required": [*required, "provider"] if provider else required,
                    "properties": properties,
                    "additionalProperties": False,
                }
            )
    return {"oneOf": alternatives}


def _english(text) -> str:
    """Return a lazily translated label in English: the schema is the same in every language
    (docs/i18n.md "What is not translated, and why")."""
    with translation.override("en"):
        return str(text)
