"""Site-wide odds and ends that are not pages: the favicon at its traditional address."""

from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.utils.decorators import method_decorator
from django.views.decorators.cache import cache_control
from django.views.generic import RedirectView


@method_decorator([login_not_required, cache_control(max_age=86400, public=True)], name="dispatch")
class FaviconView(RedirectView):
    """Redirect ``/favicon.ico`` to ``static/favicon.svg`` (docs/formats.md "Favicon").

    Browsers and feed readers ask for ``/favicon.ico`` whatever the page's
    ``<link rel="icon">`` says. The target is the static file's current URL (hashed by the
    manifest storage when ``DEBUG`` is off), so the redirect is temporary: a permanent one
    would keep pointing at an old hash after a deploy. Cached for a day.
    """

    permanent = False

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("favicon.svg")
