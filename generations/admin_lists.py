"""Admin change lists that stay fast on large tables (docs/architecture.md "Admin lists at scale").

The generation, ledger and audit lists grow without bound, so none of their pages may read a
whole table: counts stop at a cap (:class:`CappedCountPaginator`, shown honestly as
"10,000+"), filter choices come from the catalog instead of ``SELECT DISTINCT``
(:class:`FailCodeFilter`), the lists are ordered by the primary key (an index walk that stops
after one page), and the generation search matches each field through an index
(:func:`generation_search`).
"""

from functools import cached_property

from django.contrib import admin
from django.contrib.admin import helpers
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.utils import formats
from django.utils.html import format_html
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .catalog import FAIL_CODES, Provider
from .models import User

# Rows counted at most; beyond it a list shows "10,000+" (docs/architecture.md "Admin lists
# at scale").
COUNT_CAP = 10_000
# A search term that matches more members than this is too broad to list their ids: the
# search then reads the members in a subquery.
MAX_LISTED_USERS = 200


class CappedCount(int):
    """A row count that stopped at the cap: an ``int`` for the paginator's arithmetic that
    shows as ``"10,000+"`` wherever the admin prints the count, its digits grouped the active
    language's way ("10 000+" in Russian)."""

    def __str__(self) -> str:
        return formats.number_format(int(self), use_l10n=True, force_grouping=True) + "+"


class CappedCountPaginator(Paginator):
    """Count at most ``cap`` rows (``COUNT_CAP``); beyond it ``count`` is a :class:`CappedCount`.

    Counting a million ledger rows costs more than the page itself; a manager needs "more than
    10,000" and filters or a search to narrow it. The count reads primary keys with the
    ordering cleared, so the database answers it from any index; pages past the cap are out
    of range (narrow the list instead).
    """

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        """Return the number of rows, or ``CappedCount(cap)`` when there are more than ``cap``."""
        rows = self.object_list.order_by().values("pk")[: self.cap + 1].count()
        return CappedCount(self.cap) if rows > self.cap else rows


class LightRowsAdminMixin:
    """Rows that cost less to render: 50 a page, and the action checkbox written directly.

    Rendering, not SQL, is most of a change list's time once its queries are indexed: Django
    renders each row's checkbox through the form widget templates (about a fifth of a
    100-row page's CPU time, docs/architecture.md "Admin lists at scale"). The markup is the
    widget's own, accessible name included.
    """

    list_per_page = 50

    def action_checkbox(self, obj) -> str:
        """Return the row's selection checkbox, as ``ModelAdmin.action_checkbox`` renders it."""
        label = format_html(_("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            label,
        )


class LargeTableAdminMixin(LightRowsAdminMixin):
    """Settings of a change list over an ever-growing table.

    No ``date_hierarchy`` (its year links are a ``SELECT DISTINCT`` over the whole table and a
    ``MIN``/``MAX``): the date list filter gives the same ranges without a query. No full
    count, a capped one, and the newest rows first by primary key; light rows.
    """

    paginator = CappedCountPaginator
    show_full_result_count = False
    ordering = ("-id",)


class FailCodeFilter(admin.SimpleListFilter):
    """The fail codes of the catalog (``catalog.FAIL_CODES``), "another code" and "none".

    Choices come from the catalog, not from a ``SELECT DISTINCT`` over every generation. A
    code outside the catalog (a provider's new code) is listed under "Another code", and
    ``?fail_code=CODE`` still filters by any exact code. The empty code is named: Django would
    show a link with no text, which screen readers announce as a bare "link" (WCAG 2.4.4,
    issue #19 item 2).
    """

    title = gettext_lazy("fail code")
    parameter_name = "fail_code"
    OTHER = "__other__"

    def lookups(self, request, model_admin):
        return [
            ("", _("No fail code")),
            *((code, code) for code in FAIL_CODES),
            (self.OTHER, _("Another code")),
        ]

    def choices(self, changelist):
        # Django's own choices treat "" as "all"; here "" means "no fail code".
        value = self.value()
        yield {
            "selected": value is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("All"),
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }
        if value is not None and value not in {lookup for lookup, _ in self.lookup_choices}:
            yield {  # an exact code from the URL, shown as the selected choice
                "selected": True,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": value,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == self.OTHER:
            return queryset.exclude(fail_code__in=("", *FAIL_CODES))
        return queryset.filter(fail_code=value)


def _terms(search_term: str) -> list[str]:
    """Split a search as Django's admin does: words, or quoted phrases."""
    terms = []
    for bit in smart_split(search_term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        if bit:
            terms.append(bit)
    return terms


def generation_search(queryset: QuerySet, search_term: str) -> QuerySet:
    """Filter generations by each word of ``search_term`` (all must match).

    A word matches a generation whose prompt contains it (any case), whose provider task id is
    the word, or whose member's user name contains it: the admin's ``search_fields``
    (``prompt``, ``provider_task_id``, ``user__username``) written so that each arm can use an
    index on PostgreSQL (docs/architecture.md "Admin lists at scale"): the prompt through the
    trigram index of migration 0021, the task id through the unique (provider, task id) index,
    the member through the (user, created) index with the members' ids looked up first in the
    small user table. An OR across a join would make PostgreSQL read every generation.
    """
    for term in _terms(search_term):
        users = User.objects.filter(username__icontains=term).values_list("pk", flat=True)
        listed = list(users[: MAX_LISTED_USERS + 1])
        by_user = Q(user__in=users) if len(listed) > MAX_LISTED_USERS else Q(user__in=listed)
        queryset = queryset.filter(
            Q(prompt__icontains=term)
            | Q(provider__in=Provider.values, provider_task_id=term)
            | by_user
        )
    return queryset
