"""The gallery's bulk actions (issue #15 item 4; docs/storage.md "Bulk actions").

One POST form (``forms.bulk.BulkActionForm``, with Django's CSRF check) carries the selected
cards' ids and the action. The services ignore ids that are not the member's own and say how
many were skipped; a refused action changes nothing and says why. Deleting asks first: a
confirmation page without JavaScript (``GenerationBulkDeleteView``), a ``<dialog>`` with it
(static/js/gallery_bulk.js), both posting ``confirmed=1``.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.views import View
from django.views.generic import TemplateView

from .. import formats
from ..archives import generations_zip, zip_response, zip_slot_claim, zip_slot_release
from ..forms.bulk import BulkActionForm, IdListField
from ..models import Generation
from ..selectors.generations import bulk_zip_generations
from ..services import bulk_actions
from ..services.bulk_actions import BULK_MAX, BulkAlreadySubmitted, BulkRefused


def safe_next(request, fallback: str = "") -> str:
    """Return the posted (or queried) ``next`` when it is a path on this site, else the gallery."""
    target = request.POST.get("next") or request.GET.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback or reverse("generations:list")


def _skipped(count: int) -> str:
    if not count:
        return ""
    return " " + ngettext(
        "%(n)d selected item was skipped (not yours, or nothing to change).",
        "%(n)d selected items were skipped (not yours, or nothing to change).",
        count,
    ) % {"n": count}


class GenerationBulkView(View):
    """Apply one bulk action to the selected generations, then go back with a message.

    ``download`` answers with the ZIP itself (``generations.archives``); ``delete`` without
    ``confirmed`` goes to the confirmation page; ``again`` with exactly one id opens the
    form pre-filled (the card's "Generate again"), with several submits them all or none.
    """

    http_method_names = ["post"]

    def post(self, request):
        form = BulkActionForm(request.POST)
        back = safe_next(request)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, errors[0])
                break
            return HttpResponseRedirect(back)
        action, ids = form.cleaned_data["action"], form.cleaned_data["ids"]
        if action == "download":
            return self._download(request, ids, back)
        if action == "delete" and not form.cleaned_data["confirmed"]:
            query = urlencode({"ids": ids, "next": back}, doseq=True)
            return HttpResponseRedirect(f"{reverse('generations:bulk_delete')}?{query}")
        if action == "again" and len(ids) == 1:
            return HttpResponseRedirect(f"{reverse('generations:new')}?again={ids[0]}")
        if action == "again" and not request.POST.get("token", ""):
            # A form without its one-time token is refused like a used one.
            messages.info(request, str(BulkAlreadySubmitted()))
            return HttpResponseRedirect(back)
        try:
            text = getattr(self, f"_{action}")(request, ids)
        except BulkAlreadySubmitted as error:
            # A double click or a resent form: the jobs were made the first time.
            messages.info(request, str(error))
        except BulkRefused as error:
            messages.error(request, str(error))
        else:
            messages.success(request, text)
        return HttpResponseRedirect(back)

    def _download(self, request, ids: list[int], back: str):
        slot = zip_slot_claim(request.user.pk)  # before any storage call
        if slot is None:
            messages.error(
                request,
                gettext("One of your ZIP downloads is still running: wait until it finishes."),
            )
            return HttpResponseRedirect(back)
        try:
            rows, skipped = bulk_zip_generations(user=request.user, ids=ids, limit=BULK_MAX)
            archive, missing = generations_zip(rows)
            if len(rows) == missing:
                zip_slot_release(request.user.pk, slot)
                messages.error(request, gettext("None of the selected videos can be downloaded."))
                return HttpResponseRedirect(back)
        except Exception:
            zip_slot_release(request.user.pk, slot)
            raise
        if skipped + missing:
            # Shown on the next page the member opens; the ZIP itself cannot say it.
            messages.info(
                request,
                ngettext(
                    "The ZIP left out %(n)d selected item (not yours, or no stored video).",
                    "The ZIP left out %(n)d selected items (not yours, or no stored video).",
                    skipped + missing,
                )
                % {"n": skipped + missing},
            )
        return zip_response(archive, user_id=request.user.pk, slot=slot)

    def _hide(self, request, ids: list[int]) -> str:
        outcome = bulk_actions.generations_hide(user=request.user, ids=ids, hidden=True)
        count = len(outcome.done)
        return ngettext(
            "Hid %(n)d video; the Hidden filter lists them and shows them again.",
            "Hid %(n)d videos; the Hidden filter lists them and shows them again.",
            count,
        ) % {"n": count} + _skipped(outcome.skipped)

    def _unhide(self, request, ids: list[int]) -> str:
        outcome = bulk_actions.generations_hide(user=request.user, ids=ids, hidden=False)
        count = len(outcome.done)
        return ngettext(
            "%(n)d video back in the gallery.", "%(n)d videos back in the gallery.", count
        ) % {"n": count} + _skipped(outcome.skipped)

    def _favourite(self, request, ids: list[int]) -> str:
        outcome = bulk_actions.generations_favourite(user=request.user, ids=ids)
        count = len(outcome.done)
        return ngettext(
            "Added %(n)d video to favourites.", "Added %(n)d videos to favourites.", count
        ) % {"n": count} + _skipped(outcome.skipped)

    def _delete(self, request, ids: list[int]) -> str:
        outcome = bulk_actions.generations_delete(user=request.user, ids=ids)
        count = len(outcome.done)
        return ngettext(
            "Deleted %(n)d video from storage; their records and credit history stay on the"
            " Usage page.",
            "Deleted %(n)d videos from storage; their records and credit history stay on the"
            " Usage page.",
            count,
        ) % {"n": count} + _skipped(outcome.skipped)

    def _again(self, request, ids: list[int]) -> str:
        # The form's one-time token makes the jobs once, durably: the database refuses a
        # second set (services.bulk_actions.generations_again), whichever process serves it.
        token = request.POST.get("token", "")[:64]
        outcome = bulk_actions.generations_again(user=request.user, ids=ids, token=token)
        credits = sum(g.price_credits for g in outcome.done)
        jobs = ngettext("%(n)d new job", "%(n)d new jobs", len(outcome.done)) % {
            "n": len(outcome.done)
        }
        return ngettext(
            "Queued %(jobs)s (%(numbers)s); %(credits)s credit is reserved until they finish.",
            "Queued %(jobs)s (%(numbers)s); %(credits)s credits are reserved until they finish.",
            credits,
        ) % {
            "jobs": jobs,
            "numbers": ", ".join(f"#{g.pk}" for g in outcome.done),
            "credits": formats.credits(credits),
        } + _skipped(outcome.skipped)


class GenerationBulkDeleteView(TemplateView):
    """Ask before deleting the selected videos (the page without JavaScript).

    ``?ids=`` (repeated) names the selection; only the member's own, not yet deleted jobs
    are listed, so another member's id shows nothing. The page's form posts back to
    ``GenerationBulkView`` with ``confirmed=1``.
    """

    template_name = "generations/bulk_delete_confirm.html"

    def get_context_data(self, **kwargs):
        try:
            ids = IdListField(required=False).clean(self.request.GET.getlist("ids"))
        except ValidationError:  # a bad selection lists nothing
            ids = []
        rows = list(
            Generation.objects.for_user(self.request.user)
            .filter(pk__in=ids, deleted_at__isnull=True)
            .order_by("pk")
        )
        return super().get_context_data(
            generations=rows,
            running=[g for g in rows if g.is_in_flight or g.result_state == "pending"],
            skipped=len(ids) - len(rows),
            back=safe_next(self.request),
            **kwargs,
        )
