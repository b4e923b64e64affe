"""View mixins shared by the app's pages."""

from django.http import Http404


class ManagerRequiredMixin:
    """Let managers in (``User.is_manager``); show everyone else a 404.

    A 404 rather than a 403, so the manager pages do not reveal themselves to members
    (docs/architecture.md "What must hold"). Anonymous users never get here: the login middleware
    sends them to the login page first.
    """

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_manager:
            raise Http404("No such page.")
        return super().dispatch(request, *args, **kwargs)
