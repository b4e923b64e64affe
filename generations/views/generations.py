"""Member pages for generations: gallery, new-generation form, price, detail, video.

Every query is scoped to the signed-in member (``Generation.objects.for_user``), so another
member's generation is a 404 (docs/architecture.md "What must hold"). The one exception: the
video and poster of a video shared with the team (docs/gallery.md "Team library").
"""

import secrets
import uuid
from datetime import datetime, timedelta

from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.views import View
from django.views.generic import DetailView, FormView, ListView, TemplateView

from .. import catalog
from ..catalog import Mode, Provider, UnsupportedRequest
from ..formats import usd
from ..forms import GenerationForm
from ..models import CreditEntry, Generation
from ..models.ledger import credits_to_usd
from ..providers import default_provider, providers_for
from ..selectors.generations import (
    gallery_generations,
    generation_duplicate_find,
    generation_updates,
)
from ..selectors.limits import can_ask_managers, spending_limits
from ..services.generations import VariationsUnaffordable, generation_variations_create
from ..services.inputs import InputsNotConfigured, stored_inputs_available
from ..services.ledger import LedgerError
from ..services.owner_actions import generation_favourite_set
from ..services.pricing import price_quote
from ..storage import stored_file_response
from .gallery import GalleryToolbarMixin


class GenerationListView(GalleryToolbarMixin, ListView):
    """List the member's generations with the toolbar: search, filter chips, dates, sort.

    docs/gallery.md "Filters and sort"; the filters live in the URL (``GalleryToolbarMixin``).
    """

    template_name = "generations/generation_list.html"
    context_object_name = "generations"

    def base_queryset(self):
        # docs/storage.md "Bulk actions": hidden jobs only under the Hidden filter.
        queryset = gallery_generations(user=self.request.user, hidden=self._hidden())
        if group := _uuid_param(self.request.GET.get("group")):
            queryset = queryset.filter(variation_group=group)  # docs/prices.md "Variations"
        return queryset

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            variation_group=_uuid_param(self.request.GET.get("group")),
            showing_hidden=self._hidden(),
            # The bulk form's one-time token (services.bulk_actions.again_client_token).
            bulk_token=secrets.token_urlsafe(16),
            **kwargs,
        )

    def _hidden(self) -> bool:
        return self.request.GET.get("hidden") == "1"


class GenerationCreateView(FormView):
    """Show the new-generation form for the three modes; on submit hold and queue the job.

    ``?mode=`` opens a mode; ``?again=<id>`` pre-fills the settings and inputs of one of
    the member's generations ("Generate again"); ``?extend=<id>`` opens video-extend with
    one of their finished videos as the source (the "Extend" button).

    A request identical to one the member made in the last ``DUPLICATE_WINDOW`` (10
    minutes; ``generation_duplicate_find``) is not charged at once: the form comes back
    asking "You submitted this N minutes ago (#id). Submit again for P credits?", and only
    posting it again creates the job. The REST API and ``generate`` are not asked.

    ``variations`` (1-4) makes that many jobs in one transaction, each with its own hold
    (``generation_variations_create``); a member who cannot pay for all of them gets the
    reason beside the field and nothing is created; a group lands on the gallery filtered to
    it (docs/prices.md "Variations").
    """

    template_name = "generations/generation_form.html"
    form_class = GenerationForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_initial(self):
        initial = super().get_initial()
        owned = Generation.objects.for_user(self.request.user)
        if (mode := self.request.GET.get("mode")) in Mode.values:
            initial["mode"] = mode
        again = _int_param(self.request.GET.get("again"))
        previous = owned.filter(pk=again).first() if again is not None else None
        if previous is not None:
            initial.update(_settings_of(previous))
        if (extend := _int_param(self.request.GET.get("extend"))) is not None:
            initial.update(mode=Mode.VIDEO_EXTEND, source_generation=extend)
        if initial.get("mode") == Mode.VIDEO_EXTEND:
            # docs/providers/apixo.md "Parameters": camera_fixed default true
            initial.setdefault("camera_fixed", True)
        initial.setdefault(
            "provider", default_provider(mode=initial.get("mode", Mode.TEXT_TO_VIDEO))
        )
        return initial

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context["form"]
        owned = Generation.objects.for_user(self.request.user)
        extendable = Generation.objects.extendable_by(self.request.user)
        mode = form["mode"].value() or Mode.TEXT_TO_VIDEO
        reused_pk = _int_param(form["inputs_from"].value())
        source_pk = _int_param(form["source_generation"].value())
        context.update(
            modes=Mode.choices,
            mode=mode if mode in Mode.values else Mode.TEXT_TO_VIDEO,
            # mode -> provider -> resolutions, for the configured providers (issue #7).
            offers={
                m.value: {
                    p: list(catalog.resolutions_for(mode=m, provider=p))
                    for p in providers_for(mode=m)
                }
                for m in Mode
            },
            default_providers={m.value: default_provider(mode=m) for m in Mode},
            reused=(
                owned.select_related("source_generation")
                .prefetch_related("inputs")
                .filter(pk=reused_pk)
                .first()
                if reused_pk is not None
                else None
            ),
            source=(extendable.filter(pk=source_pk).first() if source_pk is not None else None),
            stored_inputs_ok=stored_inputs_available(),
            # Issue #15 item 6: the price box shows these before the first price arrives and
            # without JavaScript; generation_form.js keeps them current from QuoteView.
            limits=spending_limits(user=self.request.user),
            ask_manager=can_ask_managers(user=self.request.user),
            image_slots=[
                (form["start_image"], form["start_image_url"], 0),
                (form["end_image"], form["end_image_url"], 1),
            ],
        )
        return context

    def form_valid(self, form):
        spec = form.to_spec()
        count = form.variation_count
        token = form.cleaned_data["client_token"]
        try:
            earlier = generation_duplicate_find(
                user=self.request.user, spec=spec, client_token=token
            )
            if earlier is not None and earlier.pk != form.cleaned_data["confirm_duplicate"]:
                return self._ask_to_confirm(form, spec, earlier, count)
            generations = generation_variations_create(
                user=self.request.user, spec=spec, count=count, client_token=token
            )
        except VariationsUnaffordable as error:
            # All or nothing (docs/prices.md "Variations"): said beside the count.
            form.add_error("variations", str(error))
            return self.form_invalid(form)
        except (LedgerError, UnsupportedRequest, InputsNotConfigured) as error:
            form.add_error(None, str(error))
            return self.form_invalid(form)
        first = generations[0]
        if len(generations) == 1:
            messages.success(
                self.request,
                ngettext(
                    "Generation #%(id)s is queued; %(credits)s credit is reserved until it "
                    "finishes.",
                    "Generation #%(id)s is queued; %(credits)s credits are reserved until it "
                    "finishes.",
                    first.price_credits,
                )
                % {
                    "id": first.pk,
                    "credits": number_format(first.price_credits, force_grouping=True),
                },
            )
            return redirect(first)
        total = sum(g.price_credits for g in generations)
        messages.success(
            self.request,
            ngettext(
                "%(count)s variations (#%(first)s to #%(last)s) are queued; %(credits)s credit "
                "is reserved until they finish.",
                "%(count)s variations (#%(first)s to #%(last)s) are queued; %(credits)s credits "
                "are reserved until they finish.",
                total,
            )
            % {
                "count": len(generations),
                "first": first.pk,
                "last": generations[-1].pk,
                "credits": number_format(total, force_grouping=True),
            },
        )
        return redirect(f"{reverse('generations:list')}?group={first.variation_group}")

    def _ask_to_confirm(self, form, spec, earlier: Generation, count: int = 1):
        """Show the form again with a question instead of charging for a repeat of ``earlier``.

        Nothing is held: the job is created only when the member posts the form again
        (issue #12 item 5). The price is the one a new job would get now.
        """
        quote = price_quote(
            provider=spec.provider,
            mode=spec.mode,
            resolution=spec.resolution,
            sound=spec.sound,
            duration=spec.duration,
        )
        minutes = int((timezone.now() - earlier.created_at).total_seconds() // 60)
        if minutes < 1:
            ago = gettext("less than a minute ago")
        else:
            ago = ngettext("%(n)d minute ago", "%(n)d minutes ago", minutes) % {"n": minutes}
        form.ask_to_confirm(earlier)
        total = quote.credits * count
        duplicate = {
            "generation": earlier,
            "credits": total,
            "question": (
                ngettext(
                    "You submitted this %(ago)s (#%(id)s). Submit again for %(credits)s credit?",
                    "You submitted this %(ago)s (#%(id)s). Submit again for %(credits)s credits?",
                    total,
                )
                if count == 1
                else ngettext(
                    "You submitted this %(ago)s (#%(id)s). Submit again for %(count)s variations "
                    "for %(credits)s credit?",
                    "You submitted this %(ago)s (#%(id)s). Submit again for %(count)s variations "
                    "for %(credits)s credits?",
                    total,
                )
            )
            % {
                "ago": ago,
                "id": earlier.pk,
                "count": count,
                "credits": number_format(total, force_grouping=True),
            },
        }
        return self.render_to_response(self.get_context_data(form=form, duplicate=duplicate))


def _uuid_param(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except (TypeError, ValueError, AttributeError):
        return None


def _int_param(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _settings_of(generation: Generation) -> dict:
    """Return form initial values repeating ``generation``'s request ("Generate again")."""
    initial = {
        "mode": generation.mode,
        "prompt": generation.prompt,
        "resolution": generation.resolution,
        "duration": generation.duration,
        "sound": "on" if generation.sound else "off",
        "camera_fixed": generation.camera_fixed,
        "provider": generation.provider,
        "inputs_from": generation.pk,
    }
    if generation.aspect_ratio:
        initial["aspect_ratio"] = generation.aspect_ratio
    if generation.mode == Mode.VIDEO_EXTEND:
        initial.update(seed=generation.seed, watermark=generation.watermark)
    return initial


class QuoteView(View):
    """Return the price of the form's current values as JSON (the form's live price).

    The same ``price_quote`` service prices the job at submission, so the page never shows
    a price the server would not charge. ``providers`` holds the price at every configured
    provider that offers the mode and resolution (issue #7), so the form can show each one
    next to its choice; the top-level figures are the chosen (or default) provider's.

    Limits before submit (issue #15 item 6), all the signed-in member's own: ``balance``
    (available credits), ``cap_left`` (credits the monthly cap leaves, null without a cap),
    ``blocked`` (why the ledger would refuse this price, in the portal's words, or "") and
    ``ask_manager`` (true when "Ask a manager" can reach a manager: the portal e-mails them
    through ``CreditsRequestView``, and their addresses never reach the page). The ledger
    still decides on submit.

    Variations (issue #15 item 7; docs/prices.md "Variations"): ``variations`` (1-4, default
    1) jobs are priced together: ``credits`` stays one job's price, ``total_credits`` and
    ``total_usd`` are the submission's, and ``blocked`` and each offer's ``affordable`` weigh
    the total against the balance and the cap, since the group is all or nothing.
    """

    FIELDS = ("mode", "resolution", "duration", "sound", "provider", "variations")

    def get(self, request):
        form = GenerationForm(data={"prompt": "price", **request.GET.dict()}, user=request.user)
        if not form.is_valid() and any(f in form.errors for f in self.FIELDS):
            errors = {f: form.errors[f][0] for f in self.FIELDS if f in form.errors}
            return JsonResponse({"errors": errors}, status=400)
        data = form.cleaned_data
        count = form.variation_count
        limits = spending_limits(user=request.user)
        offers = {}
        try:
            for name in providers_for(mode=data["mode"], resolution=data["resolution"]):
                quote = price_quote(
                    provider=name,
                    mode=data["mode"],
                    resolution=data["resolution"],
                    sound=data["sound"],
                    duration=data["duration"],
                )
                offers[name] = {
                    "label": Provider(name).label,
                    "credits": quote.credits,
                    "usd": str(quote.usd),
                    # As the pages write it (docs/formats.md "Money"): "US$0.05".
                    "usd_text": usd(quote.usd),
                    "credits_per_second": quote.credits_per_second,
                    "price_table_version": quote.price_table.version,
                    "total_credits": quote.credits * count,
                    "affordable": limits.available >= quote.credits * count,
                }
        except UnsupportedRequest as error:
            return JsonResponse({"errors": {"resolution": str(error)}}, status=400)
        chosen = offers.get(data["provider"])
        if chosen is None:
            return JsonResponse(
                {"errors": {"provider": gettext("No provider offers this.")}}, status=400
            )
        blocked = limits.refusal(chosen["credits"], count)
        return JsonResponse(
            {
                **chosen,
                "provider": data["provider"],
                "variations": count,
                "total_usd": str(credits_to_usd(chosen["total_credits"])),
                "total_usd_text": usd(credits_to_usd(chosen["total_credits"])),
                "balance": limits.available,
                "cap_left": limits.cap_left,
                "blocked": blocked,
                "ask_manager": bool(blocked) and can_ask_managers(user=request.user),
                "providers": offers,
            }
        )


class OwnedGenerationMixin:
    """Fetch the generation in the URL only if the signed-in member owns it (else 404)."""

    def get_queryset(self):
        return Generation.objects.for_user(self.request.user).select_related("price_table")


class GenerationDetailView(OwnedGenerationMixin, DetailView):
    """Show one generation: player, parameters, timings, price and its ledger entries."""

    template_name = "generations/generation_detail.html"
    context_object_name = "generation"

    def get_queryset(self):
        entries = CreditEntry.objects.order_by("created_at", "id")
        # Only the member's own extensions: others may extend a video shared with the team
        # (docs/gallery.md "Extending a shared video"), and their jobs stay theirs.
        extensions = Generation.objects.for_user(self.request.user).order_by("created_at")
        return (
            super()
            .get_queryset()
            .select_related("source_generation")
            .prefetch_related(
                Prefetch("credit_entries", entries),
                "inputs",
                Prefetch("extensions", extensions),
            )
        )


class GenerationCardView(OwnedGenerationMixin, DetailView):
    """Return one gallery card as an HTML fragment, for live updates of jobs in flight."""

    template_name = "generations/_card.html"
    context_object_name = "generation"

    def get_queryset(self):
        return gallery_generations(user=self.request.user)

    def get_context_data(self, **kwargs):
        # The card's forms lead back to the gallery, not to this fragment.
        return super().get_context_data(return_to=reverse("generations:list"), **kwargs)


class GenerationFavouriteView(View):
    """Mark (``favourite=1``) or unmark (``favourite=0``) one of the member's generations.

    POST only, with the CSRF token (Django's middleware); another member's job is a 404.
    Answers JSON ``{"favourite": bool}`` to a request that accepts ``application/json``
    (static/js/gallery.js), else redirects to ``next`` when it is on this site, or to the
    gallery: the card's form works without JavaScript.
    """

    http_method_names = ["post"]

    def post(self, request, pk: int):
        try:
            generation = generation_favourite_set(
                user=request.user, generation_id=pk, favourite=request.POST.get("favourite") == "1"
            )
        except Generation.DoesNotExist:
            raise Http404("No such generation.") from None
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"favourite": generation.favourite})
        target = request.POST.get("next", "")
        safe = target.startswith("/") and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        return HttpResponseRedirect(target if safe else reverse("generations:list"))


class GenerationStatusView(OwnedGenerationMixin, DetailView):
    """Return the detail page's status panel as an HTML fragment, for live updates."""

    template_name = "generations/_status.html"
    context_object_name = "generation"


class GenerationUpdatesView(View):
    """Tell a member's open pages which of their jobs changed since ``?since=`` (JSON).

    One tab per browser asks every 0.75 s while jobs run (``static/js/live.js``) and
    fetches fragments only for the jobs that changed, so a job's final state shows within a
    second without every tab re-fetching every card (issue #14 item 3). The answer is
    ``selectors.generations.generation_updates``; a ``since`` that is not an ISO 8601 time is
    a 400.
    """

    def get(self, request):
        raw = request.GET.get("since", "")
        since = None
        if raw:
            try:
                since = datetime.fromisoformat(raw)
            except ValueError:
                return JsonResponse({"error": "since must be an ISO 8601 time"}, status=400)
            if timezone.is_naive(since):
                return JsonResponse({"error": "since must carry its UTC offset"}, status=400)
        now = timezone.now()
        if since is not None:  # a page open for a day catches up on the last day only
            since = min(max(since, now - timedelta(days=1)), now)
        updates = generation_updates(user=request.user, since=since, now=now)
        response = JsonResponse(updates)
        response["Cache-Control"] = "no-store"
        return response


class CreditsBarView(TemplateView):
    """Return the credits bar fragment, refreshed when a job settles."""

    template_name = "partials/credits_bar.html"


class GenerationVideoView(View):
    """Serve a stored result video to its owner, or to any member when it is shared with the
    team (docs/gallery.md "Team library"); ``?download=1`` as an attachment.

    Staff who may view generations in the admin watch it too (the admin's player); others
    get a 404 before any storage is touched. The video itself comes from the media
    storage (``generations.storage``): a ranged local response, a web-server hand-off, or a
    redirect to a short-lived presigned URL.
    """

    def get(self, request, pk: int):
        generation = get_object_or_404(Generation.objects.viewable_by(request.user), pk=pk)
        if not generation.has_video:
            raise Http404("This generation has no stored video.")
        extension = generation.result_file.name.rsplit(".", 1)[-1]
        response = stored_file_response(
            request,
            generation.result_file,
            filename=f"seedance-{generation.pk}.{extension}",
            as_attachment=request.GET.get("download") == "1",
        )
        # Only the owner (or the team) may see it: no shared cache keeps it; the browser
        # revalidates, so an unshared video stops playing for others.
        response.setdefault("Cache-Control", "private, no-cache")
        return response


class GenerationPosterView(View):
    """Serve the poster frame of a stored result video to its owner (the gallery card), to any
    member when the video is shared (docs/gallery.md "Team library"), and to staff who may
    view generations in the admin (the admin's player).

    Others get a 404 before any storage is touched; so does a job without a poster
    (the card then shows the video element alone; docs/storage.md "Posters").
    """

    def get(self, request, pk: int):
        generation = get_object_or_404(Generation.objects.viewable_by(request.user), pk=pk)
        if not generation.has_video or not generation.poster:
            raise Http404("This generation has no poster.")
        response = stored_file_response(request, generation.poster, content_type="image/webp")
        # private, no-cache: the browser revalidates, so an unshared video's poster stops
        # showing to the team at once (docs/gallery.md "Team library").
        response.setdefault("Cache-Control", "private, no-cache")
        return response
