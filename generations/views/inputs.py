"""Serving input assets: the provider's public read-only URL and the owner's thumbnails.

The public URL is the only way the provider can fetch an upload
(docs/providers/apixo.md "Parameters": public image URLs; docs/providers/apixo.md "Parameters": one
public video URL). It needs no login, but its path carries 192 random bits and it stops working once
the job is final plus a margin (``GenerationInput.objects.publicly_served``). Everything else is
owner-only (404 otherwise).
"""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views import View

from ..models import GenerationInput
from ..storage import stored_file_response


def _file_response(request, field_file, *, content_type: str) -> HttpResponseBase:
    """Answer with a stored input: from local disk, or a redirect to a presigned URL."""
    response = stored_file_response(request, field_file, content_type=content_type)
    # Never rendered as a page, even if a browser opens the link.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@method_decorator(login_not_required, name="dispatch")
class PublicInputView(View):
    """Serve a stored input to whoever holds its token (the provider), until it expires."""

    http_method_names = ["get", "head"]

    def get(self, request, token: str):
        generation_input = (
            GenerationInput.objects.publicly_served().filter(public_token=token).first()
        )
        if generation_input is None:
            raise Http404("No such input, or it has expired.")
        return _file_response(
            request, generation_input.file, content_type=generation_input.content_type
        )


class InputThumbnailView(View):
    """Serve an input image's thumbnail to the owner of its generation."""

    def get(self, request, pk: int, input_pk: int):
        generation_input = get_object_or_404(
            GenerationInput.objects.for_user(request.user).exclude(thumbnail=""),
            pk=input_pk,
            generation_id=pk,
        )
        return _file_response(request, generation_input.thumbnail, content_type="image/jpeg")
