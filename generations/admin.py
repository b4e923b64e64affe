"""The Django admin as an operations console for managers (STYLE.md practice 12).

The ledger is read-only here; credits move only through the ledger services. Actions call
the same services as the views and workers.
"""

from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Q, QuerySet
from django.utils import timezone

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
from .services.alerts import provider_alert_resolve
from .services.lifecycle import (
    Outcome,
    generation_download_retry,
    generation_finalize,
    generation_poll,
)
from .services.pricing import price_table_publish


class ReadOnlyAdminMixin:
    """Refuse add, change and delete: the rows are history."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class CreditAccountInline(ReadOnlyAdminMixin, admin.StackedInline):
    model = CreditAccount
    fields = ("balance", "held", "updated_at")
    readonly_fields = fields
    can_delete = False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = [CreditAccountInline]
    list_display = ("username", "email", "is_active", "balance", "held", "last_login")
    list_select_related = ("credit_account",)

    @admin.display(description="available", ordering="credit_account__balance")
    def balance(self, user: User) -> int:
        return user.credit_account.balance

    @admin.display(description="reserved", ordering="credit_account__held")
    def held(self, user: User) -> int:
        return user.credit_account.held


@admin.register(CreditEntry)
class CreditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "user", "kind", "amount", "generation", "actor", "memo")
    list_filter = ("kind", "created_at")
    list_select_related = ("account__user", "actor", "generation")
    search_fields = ("account__user__username", "memo", "idempotency_key")
    raw_id_fields = ("generation", "hold")
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(ordering="account__user__username")
    def user(self, entry: CreditEntry) -> str:
        return entry.account.user.username

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff


class StuckFilter(admin.SimpleListFilter):
    """Jobs that need a look: in flight past their next action by more than 10 minutes, or
    in flight for more than an hour, or succeeded without a stored video."""

    title = "needs attention"
    parameter_name = "stuck"

    def lookups(self, request, model_admin):
        return [("yes", "Stuck or unsaved")]

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

    title = "finished after expiry"
    parameter_name = "late"

    def lookups(self, request, model_admin):
        return [("yes", "Succeeded after expiry")]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        return queryset.filter(state=Generation.State.EXPIRED).exclude(late_state="")


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
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
        "price_credits",
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
        "fail_code",
        "created_at",
    )
    list_select_related = ("user",)
    search_fields = ("prompt", "provider_task_id", "user__username")
    raw_id_fields = ("user", "source_generation")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Generation._meta.fields]
    actions = ["poll_now", "cancel_queued", "release_stuck", "retry_download"]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Poll the provider now")
    def poll_now(self, request, queryset: QuerySet) -> None:
        states = [
            generation_poll(generation_id=pk)
            for pk in queryset.filter(state=Generation.State.SUBMITTED).values_list("pk", flat=True)
        ]
        self.message_user(request, f"Polled {len(states)} submitted generation(s).")

    @admin.action(description="Cancel queued jobs (not yet sent) and release their holds")
    def cancel_queued(self, request, queryset: QuerySet) -> None:
        outcome = Outcome(
            Generation.State.CANCELED,
            fail_code="CANCELED",
            fail_message="Canceled by a manager before it was sent; the credits were returned.",
        )
        done = sum(
            generation_finalize(
                generation_id=pk, outcome=outcome, from_states=(Generation.State.QUEUED,)
            )
            for pk in queryset.filter(state=Generation.State.QUEUED).values_list("pk", flat=True)
        )
        self.message_user(request, f"Canceled {done} queued generation(s).", messages.SUCCESS)

    @admin.action(description="Expire and release the hold (jobs in flight)")
    def release_stuck(self, request, queryset: QuerySet) -> None:
        outcome = Outcome(
            Generation.State.EXPIRED,
            fail_code="EXPIRED_BY_MANAGER",
            fail_message="Stopped by a manager; the reserved credits were returned.",
        )
        done = sum(
            generation_finalize(generation_id=pk, outcome=outcome)
            for pk in queryset.filter(state__in=Generation.State.in_flight()).values_list(
                "pk", flat=True
            )
        )
        self.message_user(request, f"Released {done} generation(s).", messages.SUCCESS)

    @admin.action(description="Retry the failed result download")
    def retry_download(self, request, queryset: QuerySet) -> None:
        done = sum(
            generation_download_retry(generation_id=pk)
            for pk in queryset.filter(result_state=Generation.ResultState.FAILED).values_list(
                "pk", flat=True
            )
        )
        self.message_user(request, f"Queued {done} download(s) again.", messages.SUCCESS)


@admin.register(ProviderAlert)
class ProviderAlertAdmin(admin.ModelAdmin):
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

    @admin.display(boolean=True, ordering="resolved_at")
    def resolved(self, alert: ProviderAlert) -> bool:
        return alert.is_resolved

    @admin.action(description="Mark resolved")
    def resolve(self, request, queryset: QuerySet) -> None:
        done = sum(
            provider_alert_resolve(alert_id=pk, actor=request.user)
            for pk in queryset.unresolved().values_list("pk", flat=True)
        )
        self.message_user(request, f"Resolved {done} alert(s).", messages.SUCCESS)


class PriceInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Price
    fields = ("provider", "model_id", "resolution", "sound", "credits_per_second")
    readonly_fields = fields


@admin.register(PriceTable)
class PriceTableAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("version", "note", "created_at", "created_by")
    inlines = [PriceInline]

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    """Current prices; saving a change publishes a new price table version."""

    list_display = ("model_id", "provider", "resolution", "sound", "credits_per_second")
    list_editable = ("credits_per_second",)
    list_filter = ("provider", "model_id", "resolution")
    fields = ("provider", "model_id", "resolution", "sound", "credits_per_second")
    readonly_fields = ("provider", "model_id", "resolution", "sound")

    def get_queryset(self, request):
        table = PriceTable.objects.order_by("-version").first()
        return super().get_queryset(request).filter(table=table)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: Price, form, change: bool) -> None:
        key = (obj.provider, obj.model_id, obj.resolution, obj.sound)
        table = price_table_publish(
            changes={key: obj.credits_per_second},
            actor=request.user,
            note=f"{obj}: changed in the admin by {request.user}",
        )
        self.message_user(request, f"Published price table v{table.version}.", messages.SUCCESS)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Managers' actions with before/after values; read-only (issue #6)."""

    list_display = ("created_at", "actor", "action", "target_user", "memo")
    list_filter = ("action", "created_at")
    list_select_related = ("actor", "target_user")
    search_fields = ("actor__username", "target_user__username", "memo")
    date_hierarchy = "created_at"


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Invitations sent from the team page; read-only (the token is stored hashed)."""

    list_display = ("email", "invited_by", "created_at", "expires_at", "status")
    list_select_related = ("invited_by",)
    search_fields = ("email",)
    exclude = ("token_hash",)


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
        return request.user.is_active and request.user.is_staff
