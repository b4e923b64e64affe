"""The gallery's toolbar (filters in the URL) and the team library, with its share action.

docs/gallery.md "Filters and sort" and "Team library". Both lists read the toolbar through
``forms.GalleryFilterForm`` and narrow their queryset with ``selectors.gallery``; sharing and
unsharing go through ``services.sharing``.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views import View
from django.views.generic import ListView

from ..forms.gallery import GalleryFilterForm
from ..models import Generation
from ..selectors.gallery import generations_filter, team_library_generations
from ..services.sharing import NotShareable, generation_share_set


class GalleryToolbarMixin:
    """Narrow a ``ListView``'s queryset by the toolbar in the query string.

    Invalid parameters are dropped and named in ``ignored`` (shown above the grid); the valid
    ones still apply. A page number out of range shows the nearest page (``Paginator.get_page``),
    so no query string gives a 404 or a 500.
    """

    library = False
    paginate_by = 24

    def base_queryset(self):
        raise NotImplementedError

    def get_filter_form(self) -> GalleryFilterForm:
        if not hasattr(self, "_filter_form"):
            self._filter_form = GalleryFilterForm(self.request.GET, library=self.library)
            self._filter_form.is_valid()
        return self._filter_form

    def get_queryset(self):
        return generations_filter(self.base_queryset(), filters=self.get_filter_form().filters())

    def paginate_queryset(self, queryset, page_size):
        paginator = Paginator(queryset, page_size)
        page = paginator.get_page(self.request.GET.get("page"))
        return paginator, page, page.object_list, page.has_other_pages()

    def get_context_data(self, **kwargs):
        form = self.get_filter_form()
        filters = form.filters()
        return super().get_context_data(
            filter_form=form,
            filters=filters,
            # Kept for the templates and other helpers' code that read them.
            query=filters.query,
            ignored=form.ignored(),
            clear_url=self.request.path,
            return_to=self.request.get_full_path(),
            **kwargs,
        )


class TeamLibraryView(GalleryToolbarMixin, ListView):
    """List the videos every member shared with the team, with the gallery's toolbar.

    Any signed-in member; the cards offer the video, download and "Extend" (a new job of the
    viewer's own, at their cost); the owner and managers get "Unshare" (docs/gallery.md
    "Team library").
    """

    template_name = "generations/library.html"
    context_object_name = "generations"
    library = True

    def base_queryset(self):
        return team_library_generations()


class GenerationShareView(View):
    """Share (``shared=1``) or unshare (``shared=0``) a video with the team; POST only.

    docs/gallery.md "Team library": the owner shares their own finished video; the owner or
    a manager unshares. Anything else is a 404 (the job's existence is not revealed). Then
    back to ``next`` when it is on this site, else to the team library or the gallery.
    """

    http_method_names = ["post"]

    def post(self, request, pk: int):
        shared = request.POST.get("shared") == "1"
        try:
            generation = generation_share_set(actor=request.user, generation_id=pk, shared=shared)
        except Generation.DoesNotExist:
            raise Http404("No such generation.") from None
        except NotShareable as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                (
                    gettext("Video #%(pk)s is shared in the team library.")
                    if shared
                    else gettext("Video #%(pk)s is no longer in the team library.")
                )
                % {"pk": generation.pk},
            )
        target = request.POST.get("next", "")
        safe = target.startswith("/") and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        return HttpResponseRedirect(target if safe else reverse("generations:library"))
