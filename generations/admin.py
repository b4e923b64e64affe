"""The Django admin as an operations console for managers (docs/style.md practice 12).

Who sees what (issue #12 items 6 and 7): every page and action asks for a model permission,
not just ``is_staff``. The Managers group (migration 0009) holds what a manager's work needs:
the generation console and its actions (``act_on_generation``), the ledger, audit log,
invitations and prices read-only, publishing a price table (``publish_pricetable``) and
provider alerts (``resolve_provideralert``). User and group administration, django-q2's and
axes' models are for superusers only. The ledger and the audit log are read-only for all.

Actions call the same services as the views and workers (``services.console``,
``services.alerts``, ``services.pricing``), which check the permission again and write the
audit log in the transaction of the change.

Looks (issue #15 item 11): the site says "Seedance Studio"; a generation's page plays its
stored video through the portal's own protected URL; pages where nothing can be edited show
no Save button (``ReadOnlyFormMixin``; Django hides them itself without change permission).
"""

from datetime import timedelta

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .admin_lists import (
    FailCodeFilter,
    LargeTableAdminMixin,
    LightRowsAdminMixin,
    generation_search,
)
from .formats import credits
from .models import (
    AuditEntry,
    CreditAccount,
    CreditEntry,
    Generation,
    Invitation,
    Price,
    PriceTable,
    ProviderAlert,
    ProviderCircuit,
    User,
)
from .models.users import MANAGERS_GROUP
from .services.alerts import RESOLVE_PERMISSION as RESOLVE_ALERT_PERMISSION
from .services.alerts import provider_alert_resolve
from .services.audit import audit_record
from .services.console import (
    ACT_PERMISSION,
    generation_cancel,
    generation_download_requeue,
    generation_expire,
    generations_poll_request,
)
from .services.pricing import PUBLISH_PERMISSION, price_table_publish
from .services.team import TeamPermissionDenied

admin.site.site_header = "Seedance Studio"
admin.site.site_title = _("Seedance Studio admin")
admin.site.index_title = _("Operations console")


class ReadOnlyAdminMixin:
    """Refuse add, change and delete: the rows are history."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyFormMixin:
    """Hide the Save buttons of a change page with nothing to edit.

    Django hides them when the user lacks change permission, but a page whose fields are all
    read-only (the generation console: the permission is there for its actions) still offers
    Save, which saves nothing. Here the buttons go when the form has no field and no inline
    can be changed; "Close" shows instead.
    """

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        inlines_editable = any(
            inline.has_add_permission or inline.has_change_permission
            for inline in context.get("inline_admin_formsets", [])
        )
        if change and not context["adminform"].form.fields and not inlines_editable:
            context.update(
                show_save=False, show_save_and_continue=False, show_save_and_add_another=False
            )
        return super().render_change_form(request, context, add, change, form_url, obj)


class SuperuserOnlyAdminMixin:
    """Show a model's admin to active superusers only, whatever permissions a staff user
    holds (issue #12 item 7: user administration and the queue's and lockouts' models)."""

    def _superuser(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request) -> bool:
        return self._superuser(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._superuser(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args) -> bool:
        return self._superuser(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._superuser(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._superuser(request) and super().has_delete_permission(request, obj)


def _superuser_only(app_label: str) -> None:
    """Re-register every admin of ``app_label`` with ``SuperuserOnlyAdminMixin`` in front.

    Used for django-q2 and axes, whose admins are registered by their own apps (listed
    before ours in ``INSTALLED_APPS``, so already loaded by the admin's autodiscovery).
    """
    if not apps.is_installed(app_label):
        return
    for model in apps.get_app_config(app_label).get_models():
        if not admin.site.is_registered(model):
            continue
        model_admin = type(admin.site.get_model_admin(model))
        admin.site.unregister(model)
        name = f"SuperuserOnly{model_admin.__name__}"
        admin.site.register(model, type(name, (SuperuserOnlyAdminMixin, model_admin), {}))


class ManagersGroupKeptMixin:
    """Keep the Managers group: not deleted, not renamed (superusers manage the others).

    ``services.team.member_manager_set`` and migration 0009 find it by its name; deleting
    or renaming it would take every manager's rights away at once and break "Make manager".
    Its permissions stay editable.
    """

    def _is_managers(self, obj) -> bool:
        return obj is not None and obj.name == MANAGERS_GROUP

    def has_delete_permission(self, request, obj=None) -> bool:
        return not self._is_managers(obj) and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "name") if self._is_managers(obj) else fields


_superuser_only("django_q")
_superuser_only("axes")
if admin.site.is_registered(Group):
    _superuser_only("auth")
    _group_admin = type(admin.site.get_model_admin(Group))
    admin.site.unregister(Group)
    admin.site.register(Group, type("GroupAdmin", (ManagersGroupKeptMixin, _group_admin), {}))


class CreditAccountInline(ReadOnlyAdminMixin, admin.StackedInline):
    model = CreditAccount
    fields = ("balance", "held", "updated_at")
    readonly_fields = fields
    can_delete = False


@admin.register(User)
class UserAdmin(LightRowsAdminMixin, SuperuserOnlyAdminMixin, DjangoUserAdmin):
    """Accounts, for superusers only; managers run the team from the team pages.

    Every change is audited with the changed fields before and after (issue #12 item 9).
    Accounts are never deleted here (their ledger and jobs refer to them): deactivate.
    """

    inlines = [CreditAccountInline]
    list_display = (
        "username",
        "email",
        "is_active",
        "is_staff",
        "is_superuser",
        "balance",
        "held",
        "last_login",
    )
    list_select_related = ("credit_account",)
    fieldsets = (*DjangoUserAdmin.fieldsets, (_("Spending"), {"fields": ("monthly_cap_credits",)}))
    # The account's settings an edit here is audited for; not the password (a secret), nor
    # the dates Django keeps (``last_login``, ``date_joined``).
    AUDITED_FIELDS = (
        "username",
        "first_name",
        "last_name",
        "email",
        "is_active",
        "is_staff",
        "is_superuser",
        "groups",
        "user_permissions",
        "monthly_cap_credits",
        "low_balance_threshold",
        "notify_on_finish",
    )

    @admin.display(description=_("available"), ordering="credit_account__balance")
    def balance(self, user: User) -> str:
        return credits(user.credit_account.balance)

    @admin.display(description=_("reserved"), ordering="credit_account__held")
    def held(self, user: User) -> str:
        return credits(user.credit_account.held)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def user_change_password(self, request, id, form_url=""):
        """Django's password page, audited: "set" or "disabled" (never the password itself),
        in one transaction with the change; a refused form records nothing."""
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                member = User.objects.get(pk=unquote(id))
                state = "set" if member.has_usable_password() else "disabled"
                audit_record(
                    actor=request.user,
                    action=AuditEntry.Action.ACCOUNT_CHANGE,
                    target_user=member,
                    after={"password": state},
                    memo=f"Password {state} in the admin.",
                )
        return response

    def save_related(self, request, form, formsets, change: bool) -> None:
        """Save, then audit the changed fields (runs in the admin's transaction)."""
        super().save_related(request, form, formsets, change)
        changed = [name for name in self.AUDITED_FIELDS if name in form.changed_data]
        if not changed:
            return
        audit_record(
            actor=request.user,
            action=AuditEntry.Action.ACCOUNT_CHANGE,
            target_user=form.instance,
            before={name: form.initial.get(name) for name in changed} if change else {},
            after={name: form.cleaned_data.get(name) for name in changed},
            memo="" if change else "Account created in the admin.",
        )


@admin.register(CreditEntry)
class CreditEntryAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The ledger, read-only; newest first, counted up to a cap (``LargeTableAdminMixin``)."""

    list_display = ("created_at", "user", "kind", "amount_credits", "generation", "actor", "memo")
    list_filter = ("kind", "created_at")
    list_select_related = ("account__user", "actor", "generation")
    search_fields = ("account__user__username", "memo", "idempotency_key")
    raw_id_fields = ("generation", "hold")

    @admin.display(description=_("user"), ordering="account__user__username")
    def user(self, entry: CreditEntry) -> str:
        return entry.account.user.username

    @admin.display(description=_("amount"), ordering="amount")
    def amount_credits(self, entry: CreditEntry) -> str:
        """Signed credits with separators (docs/formats.md "Money")."""
        return credits(entry.amount)


class StuckFilter(admin.SimpleListFilter):
    """Jobs that need a look: in flight past their next action by more than 10 minutes, or
    in flight for more than an hour, or succeeded without a stored video."""

    title = _("needs attention")
    parameter_name = "stuck"

    def lookups(self, request, model_admin):
        return [("yes", _("Stuck or unsaved"))]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        now = timezone.now()
        in_flight = Q(state__in=Generation.State.in_flight())
        late = Q(next_action_at__lt=now - timedelta(minutes=10)) | Q(
            created_at__lt=now - timedelta(hours=1)
        )
        unsaved = Q(state=Generation.State.SUCCEEDED, result_state=Generation.ResultState.FAILED)
        return queryset.filter((in_flight & late) | unsaved)


class FinishedAfterExpiryFilter(admin.SimpleListFilter):
    """Expired jobs whose task the provider reported as succeeded afterwards (issue #12).

    Their hold was released at expiry and nothing is charged automatically
    (``services.lifecycle.generation_late_record``); a manager decides what to do.
    """

    title = _("finished after expiry")
    parameter_name = "late"

    def lookups(self, request, model_admin):
        return [("yes", _("Succeeded after expiry"))]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        return queryset.filter(state=Generation.State.EXPIRED).exclude(late_state="")


@admin.register(Generation)
class GenerationAdmin(LargeTableAdminMixin, ReadOnlyFormMixin, admin.ModelAdmin):
    """The generation console: every job, its filters and the managers' actions.

    Built for 100,000s of jobs (docs/architecture.md "Admin lists at scale"): filter choices
    from the catalog, a capped count, newest first by id, an indexed search.
    """

    list_display = (
        "id",
        "user",
        "mode",
        "provider",
        "model_id",
        "provider_task_id",
        "state",
        "resolution",
        "duration",
        "price",
        "fail_code",
        "created_at",
    )
    list_filter = (
        StuckFilter,
        FinishedAfterExpiryFilter,
        "state",
        "mode",
        "provider",
        "failover_from",
        "result_state",
        FailCodeFilter,
        "created_at",
    )
    list_select_related = ("user",)
    # What the search box matches; generation_search runs it through indexes.
    search_fields = ("prompt", "=provider_task_id", "user__username")
    search_help_text = _("Words of the prompt, a member's user name, or a provider task id.")
    raw_id_fields = ("user", "source_generation")
    readonly_fields = ["result_player", *(f.name for f in Generation._meta.fields)]
    actions = ["poll_now", "cancel_queued", "release_stuck", "retry_download"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("price (credits)"), ordering="price_credits")
    def price(self, generation: Generation) -> str:
        return credits(generation.price_credits)

    def get_fields(self, request, obj=None):
        """The player first, then the model's fields."""
        fields = [name for name in super().get_fields(request, obj) if name != "result_player"]
        return ["result_player", *fields]

    @admin.display(description=_("Result video"))
    def result_player(self, generation: Generation) -> str:
        """Play the stored result (poster, then ``<video controls>``), from the portal's
        protected video URL (``GenerationVideoView``: owner or staff who view generations)."""
        if not generation.has_video:
            return gettext("No stored video.")
        video = reverse("generations:video", args=[generation.pk])
        poster = (
            format_html(' poster="{}"', reverse("generations:poster", args=[generation.pk]))
            if generation.poster
            else ""
        )
        return format_html(
            '<video class="result-player" src="{}"{} controls preload="none" '
            'playsinline aria-label="{}"></video>'
            '<p><a href="{}?download=1" download>{}</a></p>',
            video,
            poster,
            gettext("Result video #%(id)s") % {"id": generation.pk},
            video,
            gettext("Download video #%(id)s") % {"id": generation.pk},
        )

    def get_search_results(self, request, queryset, search_term):
        """Match ``search_fields`` through indexes (``admin_lists.generation_search``)."""
        if not search_term.strip():
            return queryset, False
        return generation_search(queryset, search_term), False

    def has_act_permission(self, request) -> bool:
        """May cancel, expire, poll and retry downloads (``act_on_generation``)."""
        return request.user.is_active and request.user.has_perm(ACT_PERMISSION)

    @admin.action(description=_("Poll the provider now"), permissions=["act"])
    def poll_now(self, request, queryset: QuerySet) -> None:
        """Queue a status check of the selected ``submitted`` jobs (run by the workers)."""
        queued = generations_poll_request(
            generation_ids=queryset.values_list("pk", flat=True), actor=request.user
        )
        self.message_user(
            request,
            ngettext(
                "Queued a status check of %(count)d submitted generation; its state updates "
                "within seconds.",
                "Queued a status check of %(count)d submitted generations; their state updates "
                "within seconds.",
                queued,
            )
            % {"count": queued},
            messages.SUCCESS,
        )

    @admin.action(
        description=_("Cancel queued jobs (not yet sent) and release their holds"),
        permissions=["act"],
    )
    def cancel_queued(self, request, queryset: QuerySet) -> None:
        pks = queryset.filter(state=Generation.State.QUEUED).values_list("pk", flat=True)
        done = self._release_each(request, generation_cancel, pks)
        self.message_user(
            request,
            ngettext(
                "Canceled %(count)d queued generation.",
                "Canceled %(count)d queued generations.",
                done,
            )
            % {"count": done},
            messages.SUCCESS,
        )

    @admin.action(
        description=_("Expire and release the hold (jobs in flight)"), permissions=["act"]
    )
    def release_stuck(self, request, queryset: QuerySet) -> None:
        pks = queryset.filter(state__in=Generation.State.in_flight()).values_list("pk", flat=True)
        done = self._release_each(request, generation_expire, pks)
        self.message_user(
            request,
            ngettext("Released %(count)d generation.", "Released %(count)d generations.", done)
            % {"count": done},
            messages.SUCCESS,
        )

    def _release_each(self, request, service, pks) -> int:
        """Run ``service`` (cancel or expire) on each job; return how many it finalized.

        A job whose owner ranks too high for the manager (the hierarchy rule, issue #12
        item 8) is skipped with a warning naming the first reason; the others go ahead,
        each in its own transaction.
        """
        done, refused = 0, []
        for pk in pks:
            try:
                done += service(generation_id=pk, actor=request.user)
            except TeamPermissionDenied as error:
                refused.append(str(error))
        if refused:
            self.message_user(
                request,
                ngettext(
                    "Skipped %(count)d generation: %(reason)s",
                    "Skipped %(count)d generations: %(reason)s",
                    len(refused),
                )
                % {"count": len(refused), "reason": refused[0]},
                messages.WARNING,
            )
        return done

    @admin.action(description=_("Retry the failed result download"), permissions=["act"])
    def retry_download(self, request, queryset: QuerySet) -> None:
        done = sum(
            generation_download_requeue(generation_id=pk, actor=request.user)
            for pk in queryset.filter(result_state=Generation.ResultState.FAILED).values_list(
                "pk", flat=True
            )
        )
        self.message_user(
            request,
            ngettext("Queued %(count)d download again.", "Queued %(count)d downloads again.", done)
            % {"count": done},
            messages.SUCCESS,
        )


@admin.register(ProviderAlert)
class ProviderAlertAdmin(ReadOnlyFormMixin, admin.ModelAdmin):
    """Provider trouble the managers must act on (401, 402, 403 answers); resolve when fixed."""

    list_display = ("last_seen", "provider", "kind", "message", "count", "first_seen", "resolved")
    list_filter = ("provider", "kind", ("resolved_at", admin.EmptyFieldListFilter))
    list_select_related = ("resolved_by",)
    search_fields = ("message", "detail", "kind")
    readonly_fields = [f.name for f in ProviderAlert._meta.fields]
    actions = ["resolve"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("resolved"), boolean=True, ordering="resolved_at")
    def resolved(self, alert: ProviderAlert) -> bool:
        return alert.is_resolved

    def has_resolve_permission(self, request) -> bool:
        """May mark alerts resolved (``resolve_provideralert``)."""
        return request.user.is_active and request.user.has_perm(RESOLVE_ALERT_PERMISSION)

    @admin.action(description=_("Mark resolved"), permissions=["resolve"])
    def resolve(self, request, queryset: QuerySet) -> None:
        done = sum(
            provider_alert_resolve(alert_id=pk, actor=request.user)
            for pk in queryset.unresolved().values_list("pk", flat=True)
        )
        self.message_user(
            request,
            ngettext("Resolved %(count)d alert.", "Resolved %(count)d alerts.", done)
            % {"count": done},
            messages.SUCCESS,
        )


class PriceInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Price
    fields = ("provider", "model_id", "resolution", "sound", "credits_per_second")
    readonly_fields = fields


@admin.register(PriceTable)
class PriceTableAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Published price table versions (history; read-only)."""

    list_display = ("version", "note", "created_at", "created_by")
    list_select_related = ("created_by",)
    inlines = [PriceInline]


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    """Current prices; saving a change publishes a new price table version."""

    list_display = ("model_id", "provider", "resolution", "sound", "credits_per_second")
    list_editable = ("credits_per_second",)
    list_filter = ("provider", "model_id", "resolution")
    fields = ("provider", "model_id", "resolution", "sound", "credits_per_second")
    readonly_fields = ("provider", "model_id", "resolution", "sound")

    def get_changelist_form(self, request, **kwargs):
        """Name each row's rate field: Django's list_editable inputs have no label (WCAG
        4.1.2, issue #19); the name says which price the input sets."""
        form = super().get_changelist_form(request, **kwargs)

        class PriceRowForm(form):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                price = self.instance
                sound = gettext("sound on") if price.sound else gettext("sound off")
                self.fields["credits_per_second"].widget.attrs["aria-label"] = gettext(
                    "Credits per second, %(provider)s %(model)s %(resolution)s %(sound)s"
                ) % {
                    "provider": price.get_provider_display(),
                    "model": price.model_id,
                    "resolution": price.resolution,
                    "sound": sound,
                }

        return PriceRowForm

    def get_queryset(self, request):
        table = PriceTable.objects.order_by("-version").first()
        return super().get_queryset(request).filter(table=table)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        """Editing a price publishes a table: ``publish_pricetable``, not ``change_price``."""
        return request.user.is_active and request.user.has_perm(PUBLISH_PERMISSION)

    def save_model(self, request, obj: Price, form, change: bool) -> None:
        """Publish a version with the edited rate; an unchanged save publishes nothing.

        Rates edited together on the list (``list_editable``) are collected by
        :meth:`changelist_view` and published as one version, not one version per row.
        """
        if "credits_per_second" not in form.changed_data:
            return
        key = (obj.provider, obj.model_id, obj.resolution, obj.sound)
        pending = getattr(request, "_price_changes", None)
        if pending is not None:
            pending[key] = (obj.credits_per_second, str(obj))
            return
        self._publish(request, {key: (obj.credits_per_second, str(obj))})

    def changelist_view(self, request, extra_context=None):
        """Save the list's edited rates as one published version (after Django's own save)."""
        request._price_changes = {}
        response = super().changelist_view(request, extra_context)
        if request._price_changes:
            self._publish(request, request._price_changes)
        return response

    def _publish(self, request, changes: dict) -> None:
        """Publish one price table version with ``changes`` ({key: (credits, label)})."""
        labels = ", ".join(label for _, label in changes.values())
        table = price_table_publish(
            changes={key: credits for key, (credits, _) in changes.items()},
            actor=request.user,
            note=f"{labels}: changed in the admin by {request.user}"[:255],
        )
        self.message_user(
            request,
            gettext("Published price table v%(version)s.") % {"version": table.version},
            messages.SUCCESS,
        )


@admin.register(AuditEntry)
class AuditEntryAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Managers' actions with before/after values; read-only (issue #6, #12 item 9)."""

    list_display = ("created_at", "actor", "action", "target_user", "subject", "memo")
    list_filter = ("action", "created_at")
    list_select_related = ("actor", "target_user")
    search_fields = ("actor__username", "target_user__username", "subject", "memo")


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Invitations sent from the team page; read-only (the token is stored hashed)."""

    list_display = ("email", "invited_by", "created_at", "expires_at", "state")
    list_select_related = ("invited_by",)
    search_fields = ("email",)
    exclude = ("token_hash",)

    # ``Invitation.status`` values, as the list shows them.
    STATES = {
        "accepted": _("Accepted"),
        "revoked": _("Withdrawn"),
        "expired": _("Expired"),
        "pending": _("Pending"),
    }

    @admin.display(description=_("status"))
    def state(self, invitation: Invitation) -> str:
        """Return ``invitation.status`` in the active language."""
        return str(self.STATES.get(invitation.status, invitation.status))


# --- Provider circuits (issue #12: money safety; owned by services.circuit) ------------------


@admin.register(ProviderCircuit)
class ProviderCircuitAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Which providers are paused after refusing the portal's account, and the next probe.

    Read-only: a circuit closes by itself when a probe of the provider's balance endpoint
    succeeds (``services.circuit``); fix the key or the balance, and wait for the probe.
    """

    list_display = ("provider", "state", "reason", "opened_at", "next_probe_at", "probes")
    list_filter = ("state",)

    def has_view_permission(self, request, obj=None) -> bool:
        """Whoever sees provider alerts sees the circuits (``view_provideralert``; the
        Managers group has it), or holds ``view_providercircuit``: not ``is_staff`` alone."""
        user = request.user
        return user.is_active and (
            user.has_perm("generations.view_provideralert")
            or super().has_view_permission(request, obj)
        )
