"""Managers' team pages: members and their figures, credits for many, caps, invitations,
deactivation and the audit log; and the invitee's page to accept an invitation.

Managers only (``User.is_manager``); anyone else gets a 404, so the pages do not reveal
themselves (docs/architecture.md "What must hold"). Every change goes through ``services.team``,
whose hierarchy rule (``team_action_authorize``) may refuse it: the page then shows the reason as
an error message and nothing is written (issue #12 item 8).
"""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView, ListView

from ..forms import CapForm, InvitationAcceptForm, InvitationForm, TeamCreditsForm
from ..i18n import credits_text
from ..models import Invitation, User
from ..selectors.reports import StatementPaginator
from ..selectors.team import audit_entries, invitations_pending, members_with_figures
from ..services.ledger import LedgerError, month_start
from ..services.team import (
    TeamError,
    TeamPermissionDenied,
    TeamRequestRepeated,
    invitation_accept,
    invitation_create,
    invitation_find,
    invitation_revoke,
    member_active_set,
    member_cap_set,
    member_manager_set,
    team_credits_grant,
    team_credits_revoke,
)
from .mixins import ManagerRequiredMixin


class TeamMembersView(ManagerRequiredMixin, ListView):
    """List members with balance, reserved, spent this month and last job; act on them."""

    template_name = "team/members.html"
    context_object_name = "members"
    paginate_by = 50

    def get_queryset(self):
        return members_with_figures(since=month_start())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(
            credits_form=kwargs.pop("credits_form", None) or TeamCreditsForm(),
            invitation_form=kwargs.pop("invitation_form", None) or InvitationForm(),
            invitations=invitations_pending(),
            month_start=month_start(),
            **kwargs,
        )
        # Offer only what the hierarchy rule allows (services.team.team_action_authorize,
        # which decides again on every POST): a superuser acts on anyone, a manager on members.
        viewer = self.request.user
        # The form's ``members`` field is read for its value and errors only, never rendered
        # or iterated: its choices are every active user, and the page shows 50 (issue #14,
        # docs/architecture.md "Admin lists at scale": cost grows with the page).
        form = context["credits_form"]
        selected = {str(pk) for pk in form["members"].value() or ()}
        members = list(context["members"])
        for member in members:
            member.may_act = viewer.is_superuser or (
                member.rank == "member" and member.pk != viewer.pk
            )
            member.selected = str(member.pk) in selected
        context["members"] = members
        context["members_errors"] = form.errors.get("members") if form.is_bound else None
        return context


class TeamCreditsView(ManagerRequiredMixin, View):
    """Grant or revoke credits for the selected members (all or nothing)."""

    def post(self, request):
        form = TeamCreditsForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            users = list(data["members"])
            given = {
                "users": users,
                "amount": data["amount"],
                "actor": request.user,
                "memo": data["memo"],
                "request_token": data["request_token"],
            }
            try:
                if data["action"] == "grant":
                    count = team_credits_grant(**given)
                    messages.success(
                        request,
                        ngettext(
                            "Granted %(credits)s to %(count)d member.",
                            "Granted %(credits)s to %(count)d members.",
                            count,
                        )
                        % {"credits": credits_text(data["amount"]), "count": count},
                    )
                else:
                    count = team_credits_revoke(**given)
                    messages.success(
                        request,
                        ngettext(
                            "Revoked credits from %(count)d member.",
                            "Revoked credits from %(count)d members.",
                            count,
                        )
                        % {"count": count},
                    )
                return redirect("team:members")
            except TeamRequestRepeated as error:
                messages.info(request, str(error))
                return redirect("team:members")
            except TeamPermissionDenied as error:
                messages.error(request, str(error))
                return redirect("team:members")
            except LedgerError as error:
                form.add_error("amount", str(error))
        view = TeamMembersView(request=request, kwargs={}, args=())
        view.object_list = view.get_queryset()
        context = view.get_context_data(credits_form=form)
        return view.render_to_response(context, status=400)


class InvitationCreateView(ManagerRequiredMixin, View):
    """Send a single-use invitation link to an e-mail address."""

    def post(self, request):
        form = InvitationForm(request.POST)
        if form.is_valid():
            try:
                sent = invitation_create(
                    email=form.cleaned_data["email"],
                    actor=request.user,
                    base_url=request.build_absolute_uri("/"),
                )
            except TeamError as error:
                form.add_error("email", str(error))
            else:
                messages.success(
                    request,
                    gettext("Invitation sent to %(email)s.") % {"email": sent.invitation.email},
                )
                return redirect("team:members")
        view = TeamMembersView(request=request, kwargs={}, args=())
        view.object_list = view.get_queryset()
        return view.render_to_response(view.get_context_data(invitation_form=form), status=400)


class InvitationRevokeView(ManagerRequiredMixin, View):
    """Withdraw an unused invitation."""

    def post(self, request, pk: int):
        invitation = get_object_or_404(Invitation.objects.select_related("invited_by"), pk=pk)
        try:
            revoked = invitation_revoke(invitation=invitation, actor=request.user)
        except TeamPermissionDenied as error:
            messages.error(request, str(error))
        else:
            if revoked:
                messages.success(
                    request,
                    gettext("The invitation for %(email)s was withdrawn.")
                    % {"email": invitation.email},
                )
            else:
                messages.info(request, _("That invitation was already used, withdrawn or expired."))
        return redirect("team:members")


class MemberCapView(ManagerRequiredMixin, View):
    """Set or clear one member's monthly cap."""

    def post(self, request, pk: int):
        member = get_object_or_404(User, pk=pk)
        form = CapForm(request.POST)
        if form.is_valid():
            cap = form.cleaned_data["monthly_cap_credits"]
            try:
                member_cap_set(user=member, cap=cap, actor=request.user)
            except TeamPermissionDenied as error:
                messages.error(request, str(error))
            else:
                if cap is None:
                    shown = gettext("no cap")
                else:
                    shown = ngettext(
                        "%(credits)s credit a month", "%(credits)s credits a month", cap
                    ) % {"credits": number_format(cap, force_grouping=True)}
                messages.success(request, f"{member.username}: {shown}.")
        else:
            messages.error(request, " ".join(form.errors.get("monthly_cap_credits", [])))
        return redirect("team:members")


class MemberActiveView(ManagerRequiredMixin, View):
    """Deactivate or reactivate a member (their jobs in flight still finish)."""

    def post(self, request, pk: int):
        member = get_object_or_404(User, pk=pk)
        active = request.POST.get("active") == "1"
        try:
            member_active_set(user=member, active=active, actor=request.user)
        except TeamError as error:
            messages.error(request, str(error))
        else:
            if active:
                text = gettext("%(username)s reactivated.")
            else:
                text = gettext("%(username)s deactivated; their jobs in flight still finish.")
            messages.success(request, text % {"username": member.username})
        return redirect("team:members")


class MemberManagerView(ManagerRequiredMixin, View):
    """Make a member a manager, or a manager a member again (superusers only)."""

    def post(self, request, pk: int):
        member = get_object_or_404(User, pk=pk)
        manager = request.POST.get("manager") == "1"
        try:
            member_manager_set(user=member, manager=manager, actor=request.user)
        except TeamPermissionDenied as error:
            messages.error(request, str(error))
        else:
            if manager:
                text = gettext("%(username)s is now a manager (admin access included).")
            else:
                text = gettext("%(username)s is no longer a manager.")
            messages.success(request, text % {"username": member.username})
        return redirect("team:members")


class AuditLogView(ManagerRequiredMixin, ListView):
    """Show every manager action with who, when, and the values before and after."""

    template_name = "team/audit.html"
    context_object_name = "entries"
    paginate_by = 50
    # Older pages are read from the oldest end, so the last of 2,000 pages costs what the
    # first does (docs/architecture.md "Admin lists at scale").
    paginator_class = StatementPaginator

    def get_queryset(self):
        return audit_entries()


@method_decorator(login_not_required, name="dispatch")
class InvitationAcceptView(FormView):
    """Let an invitee choose a user name and password, then sign them in."""

    template_name = "registration/invitation_accept.html"
    form_class = InvitationAcceptForm

    def dispatch(self, request, *args, **kwargs):
        self.invitation = invitation_find(kwargs["token"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(invitation=self.invitation, **kwargs)

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            user = invitation_accept(
                token=self.kwargs["token"], username=data["username"], password=data["password1"]
            )
        except TeamError as error:
            form.add_error(error.field, str(error))
            return self.form_invalid(form)
        except ValidationError as error:
            form.add_error("password1", error)
            return self.form_invalid(form)
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(
            self.request,
            gettext("Welcome, %(username)s! A manager will grant you credits.")
            % {"username": user.username},
        )
        return redirect(reverse("generations:list"))
