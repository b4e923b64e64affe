"""Member pages for generations: gallery, new-generation form, price, detail, video.

Every query is scoped to the signed-in member (``Generation.objects.for_user``), so another
member's generation is a 404 (DESIGN.md "What must hold").
"""

from django.contrib import messages
from django.db.models import Prefetch
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import DetailView, FormView, ListView, TemplateView

from ..catalog import UnsupportedRequest
from ..forms import GenerationForm
from ..models import CreditEntry, Generation
from ..services.generations import generation_create
from ..services.ledger import InsufficientCredits
from ..services.pricing import price_quote


class GenerationListView(ListView):
    """List the member's generations, newest first, with prompt search and a state filter."""

    template_name = "generations/generation_list.html"
    context_object_name = "generations"
    paginate_by = 24

    def get_queryset(self):
        queryset = Generation.objects.for_user(self.request.user)
        if query := self.request.GET.get("q", "").strip():
            queryset = queryset.filter(prompt__icontains=query)
        if (state := self.request.GET.get("state", "")) in Generation.State.values:
            queryset = queryset.filter(state=state)
        return queryset

    def get_context_data(self, **kwargs):
        state = self.request.GET.get("state", "")
        return super().get_context_data(
            query=self.request.GET.get("q", "").strip(),
            state=state if state in Generation.State.values else "",
            states=Generation.State.choices,
            **kwargs,
        )


class GenerationCreateView(FormView):
    """Show the new-generation form; on submit hold the price and queue the job."""

    template_name = "generations/generation_form.html"
    form_class = GenerationForm

    def form_valid(self, form):
        try:
            generation = generation_create(
                user=self.request.user,
                spec=form.to_spec(),
                client_token=form.cleaned_data["client_token"],
            )
        except (InsufficientCredits, UnsupportedRequest) as error:
            form.add_error(None, str(error))
            return self.form_invalid(form)
        messages.success(
            self.request,
            f"Generation #{generation.pk} is queued; {generation.price_credits:,} credits "
            "are reserved until it finishes.",
        )
        return redirect(generation)


class QuoteView(View):
    """Return the price of the form's current values as JSON (the form's live price).

    The same ``price_quote`` service prices the job at submission, so the page never shows
    a price the server would not charge.
    """

    def get(self, request):
        form = GenerationForm(data={"prompt": "price", **request.GET.dict()})
        fields = ("mode", "resolution", "duration", "sound")
        if not form.is_valid() and any(f in form.errors for f in fields):
            errors = {f: form.errors[f][0] for f in fields if f in form.errors}
            return JsonResponse({"errors": errors}, status=400)
        data = form.cleaned_data
        try:
            quote = price_quote(
                provider="apixo",
                mode=data["mode"],
                resolution=data["resolution"],
                sound=data["sound"],
                duration=data["duration"],
            )
        except UnsupportedRequest as error:
            return JsonResponse({"errors": {"resolution": str(error)}}, status=400)
        account = request.user.credit_account
        return JsonResponse(
            {
                "credits": quote.credits,
                "usd": str(quote.usd),
                "credits_per_second": quote.credits_per_second,
                "price_table_version": quote.price_table.version,
                "affordable": account.balance >= quote.credits,
                "balance": account.balance,
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
        return super().get_queryset().prefetch_related(Prefetch("credit_entries", entries))


class GenerationCardView(OwnedGenerationMixin, DetailView):
    """Return one gallery card as an HTML fragment, for live updates of jobs in flight."""

    template_name = "generations/_card.html"
    context_object_name = "generation"


class GenerationStatusView(OwnedGenerationMixin, DetailView):
    """Return the detail page's status panel as an HTML fragment, for live updates."""

    template_name = "generations/_status.html"
    context_object_name = "generation"


class CreditsBarView(TemplateView):
    """Return the credits bar fragment, refreshed when a job settles."""

    template_name = "partials/credits_bar.html"


class GenerationVideoView(View):
    """Serve a stored result video to its owner; ``?download=1`` as an attachment."""

    def get(self, request, pk: int):
        generation = get_object_or_404(Generation.objects.for_user(request.user), pk=pk)
        if not generation.has_video:
            raise Http404("This generation has no stored video.")
        return FileResponse(
            generation.result_file.open("rb"),
            as_attachment=request.GET.get("download") == "1",
            filename=f"seedance-{generation.pk}.{generation.result_file.name.rsplit('.', 1)[-1]}",
        )
