"""Spend reports: a member's usage and statement, the team's spend, and their CSV exports.

docs/architecture.md "Users and their jobs": members see their balance and spend; managers see spend
per member, provider, mode, resolution and period with charts and CSV, and each configured
provider account's balance (issue #7). Members see only their own ledger; the team pages
are a 404 for anyone but a manager (the login middleware sends anonymous users to the login
page first).

The views only read (``selectors.reports``); CSV exports stream rows from a database
iterator, so a million rows never sit in memory at once, and keep their numbers
machine-readable: no thousands separators, exact US dollars, ISO 8601 times
(docs/formats.md "CSV").
"""

import csv
from collections.abc import Iterable, Iterator
from datetime import date, timedelta

from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils import dateformat, formats
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, pgettext_lazy
from django.views import View
from django.views.generic import TemplateView

from ..catalog import Provider
from ..formats import csv_credits_usd, csv_moment, csv_usd, usd
from ..forms.reports import StatementFilterForm, TeamSpendFilterForm
from ..models import CreditEntry
from ..selectors.balances import provider_balances
from ..selectors.reports import (
    Period,
    StatementPaginator,
    local_midnight,
    local_today,
    member_usage,
    month_first_day,
    statement_rows,
    statement_totals,
)
from ..selectors.team_spend import members_with_jobs, team_spend, team_spend_rows
from ..services.provider_balances import provider_balances_refresh_request
from .mixins import ManagerRequiredMixin

STATEMENT_PAGE_SIZE = 25
MEMBER_CHART_BARS = 20
# Rows of the team spend page's member table per page (1,000 rows were 450 KiB of HTML).
MEMBERS_PER_PAGE = 50
CSV_CHUNK_ROWS = 2000


# --- Helpers -----------------------------------------------------------------------------------


def _bounds(first: date | None, last: date | None):
    """Return the aware ``[start, end)`` of local days ``first`` to ``last`` (None: open)."""
    start = local_midnight(first) if first else None
    end = local_midnight(last + timedelta(days=1)) if last else None
    return start, end


def _query_without(request, *names: str) -> str:
    """Return the request's query string without ``names`` (e.g. ``page``), for links."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def _period_label(day: date, period: str, *, short: bool = False) -> str:
    """Return a label for the period starting on ``day``: "3 Nov 2026", "w/c 2 Nov 2026",
    "Nov 2026"; ``short`` drops the year of days and weeks (chart axes)."""
    if period == Period.MONTH:
        return dateformat.format(day, "M Y")
    label = dateformat.format(day, "j M" if short else "j M Y")
    # "w/c": the week commencing on that day.
    return gettext("w/c %(day)s") % {"day": label} if period == Period.WEEK else label


def _chart(labels: list[str], label: str, credits: list[int], *, horizontal=False) -> dict:
    """Return the data ``static/js/charts.js`` draws: one bar series of credits."""
    return {
        "labels": labels,
        "series": [{"label": label, "data": credits}],
        "horizontal": horizontal,
    }


def _text(value: str | None) -> str:
    """Return ``value`` safe for a spreadsheet: text that a spreadsheet would run as a
    formula (starting with =, +, -, @ or a control character) gets a leading quote."""
    value = value or ""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


class _Echo:
    """A file-like object whose ``write`` returns what it is given (csv.writer to strings)."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterable[list]) -> Iterator[str]:
    """Yield CSV text in chunks of ``CSV_CHUNK_ROWS`` rows (fewer, larger writes)."""
    writer = csv.writer(_Echo())
    chunk: list[str] = []
    for row in rows:
        chunk.append(writer.writerow(row))
        if len(chunk) >= CSV_CHUNK_ROWS:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def _csv_response(rows: Iterable[list], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _bad_filters(form) -> HttpResponseBadRequest:
    """Return a plain-text 400 listing the filter errors (a CSV link was edited by hand)."""
    return HttpResponseBadRequest(
        gettext("Invalid filters:") + "\n" + form.errors.as_text(),
        content_type="text/plain; charset=utf-8",
    )


def _range_slug(first: date | None, last: date | None) -> str:
    return f"{first.isoformat() if first else 'start'}_{last.isoformat() if last else 'now'}"


# --- Member pages ------------------------------------------------------------------------------


class UsageView(TemplateView):
    """Show the member's credits, this month's spend, a 30-day chart and their statement.

    The statement is paginated newest first; each row shows the balance after it, right
    across pages. ``?from=&to=`` (local dates) and ``?kind=`` filter it.
    """

    template_name = "reports/usage.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        form = StatementFilterForm(self.request.GET)
        start, end = _bounds(*form.date_range())
        today = local_today()
        usage = member_usage(user=user, month_start=month_first_day(today), today=today)
        totals = statement_totals(user=user, start=start, end=end, kinds=form.kinds())
        paginator = StatementPaginator(
            statement_rows(user=user, start=start, end=end, kinds=form.kinds()),
            STATEMENT_PAGE_SIZE,
            count=totals.entries,
        )
        query = _query_without(self.request, "page")
        return super().get_context_data(
            form=form,
            usage=usage,
            page_obj=paginator.get_page(self.request.GET.get("page")),
            totals=totals,
            kinds=CreditEntry.Kind.choices,
            chosen_kinds=form.kinds(),
            breakdowns=[
                (gettext("Mode"), usage.by_mode),
                (gettext("Resolution"), usage.by_resolution),
                (gettext("Sound"), usage.by_sound),
            ],
            filtered=bool(query),
            csv_url=f"{reverse('generations:statement_csv')}?{query}",
            daily_chart=_chart(
                [_period_label(b.start, Period.DAY, short=True) for b in usage.daily],
                gettext("Credits spent"),
                [b.credits for b in usage.daily],
            ),
            **kwargs,
        )


# The header rows follow the page's language (docs/formats.md "CSV"); the English names are
# the machine names the columns always had.
STATEMENT_CSV_HEADER = [
    pgettext_lazy("CSV column", "created_at"),
    pgettext_lazy("CSV column", "entry"),
    pgettext_lazy("CSV column", "kind"),
    pgettext_lazy("CSV column", "amount_credits"),
    pgettext_lazy("CSV column", "balance_change_credits"),
    pgettext_lazy("CSV column", "reserved_change_credits"),
    pgettext_lazy("CSV column", "balance_after_credits"),
    pgettext_lazy("CSV column", "spent_credits"),
    pgettext_lazy("CSV column", "generation"),
    pgettext_lazy("CSV column", "memo"),
    pgettext_lazy("CSV column", "actor"),
]


class StatementCsvView(View):
    """Stream the member's statement as CSV, newest first, with a final totals row.

    Same filters as the usage page. The totals row (entries, balance change, reserved
    change, spent; credits) is summed from the streamed rows, so it always matches them,
    and equals the page's totals for the same filters.
    """

    def get(self, request):
        form = StatementFilterForm(request.GET)
        if not form.is_valid():
            return _bad_filters(form)
        first, last = form.date_range()
        start, end = _bounds(first, last)
        entries = statement_rows(user=request.user, start=start, end=end, kinds=form.kinds())
        # Plain tuples, not model instances: the export may be a million rows long.
        fields = (
            "created_at",
            "pk",
            "kind",
            "amount",
            "balance_change",
            "held_change",
            "running_balance",
            "generation_id",
            "memo",
            "actor_name",
        )

        header = [str(name) for name in STATEMENT_CSV_HEADER]  # in the request's language

        def rows() -> Iterator[list]:
            yield header
            count = balance_change = held_change = spent = 0
            for row in entries.values_list(*fields).iterator(chunk_size=CSV_CHUNK_ROWS):
                created_at, pk, kind, amount, change, held, after, generation, memo, actor = row
                entry_spent = -amount if kind == CreditEntry.Kind.CAPTURE else 0
                count += 1
                balance_change += change
                held_change += held
                spent += entry_spent
                yield [
                    csv_moment(created_at),
                    pk,
                    kind,
                    amount,
                    change,
                    held,
                    after,
                    entry_spent,
                    generation or "",
                    _text(memo),
                    _text(actor),
                ]
            yield ["TOTAL", count, "", "", balance_change, held_change, "", spent, "", "", ""]

        return _csv_response(rows(), f"statement_{_range_slug(first, last)}.csv")


# --- Manager pages -----------------------------------------------------------------------------


def _grouper():
    """Return a function formatting an int as ``intcomma`` does in the active language,
    fast: Python's own grouping when the language groups by three, else ``intcomma``."""
    from django.contrib.humanize.templatetags.humanize import intcomma

    if formats.get_format("NUMBER_GROUPING") == 3:
        separator = formats.get_format("THOUSAND_SEPARATOR")
        return lambda value: f"{value:,}".replace(",", separator)
    return intcomma


# One member's row; fields: username, member query, id, deactivated note,
# spent, US$, jobs, succeeded, failed, failure rate, available, reserved.
MEMBER_ROW = (
    '\n      <tr data-member="{0}">\n'
    '        <th scope="row"><a href="?{1}member={2}">{0}</a>{3}</th>\n'
    '        <td class="num">{4}</td>\n'
    '        <td class="num">{5}</td>\n'
    '        <td class="num">{6}</td>\n'
    '        <td class="num">{7}</td>\n'
    '        <td class="num">{8}</td>\n'
    '        <td class="num">{9}</td>\n'
    '        <td class="num">{10}</td>\n'
    '        <td class="num">{11}</td>\n'
    "      </tr>\n      "
)


def _member_rows(members, member_query: str) -> SafeString:
    """Return the team spend table's member rows as HTML, the markup the template loop
    made (``reports/team_spend.html``), written here because a template loop over 1,000
    members took longer than the page's every query together (issue #14)."""
    group = _grouper()
    query = format_html("{}&amp;", member_query) if member_query else ""
    inactive = format_html(' <small class="meta">{}</small>', gettext("(deactivated)"))
    rows = (
        (
            member.username,
            query,
            member.user_id,
            inactive if not member.is_active else "",
            group(member.credits),
            usd(member.usd),
            group(member.jobs),
            group(member.succeeded),
            group(member.failed),
            _rate_text(member.failure_rate),
            group(member.balance),
            group(member.held),
        )
        for member in members
    )
    return format_html("      {}\n", format_html_join("", MEMBER_ROW, rows))


def _rate_text(rate) -> str:
    """Return a failure rate as the template showed it: "12.5%", or "-" before any result."""
    return "-" if rate is None else f"{formats.localize(rate)}%"


class TeamSpendView(ManagerRequiredMixin, TemplateView):
    """Show the team's spend per period, member, provider, mode and resolution; jobs,
    failure rates and every configured provider account's balance. Managers only.

    ``?provider=`` limits every figure but the balances to one provider's jobs.
    """

    template_name = "reports/team_spend.html"

    @staticmethod
    def balances() -> list:
        """Return the provider balances as last read by a worker, asking for a fresh read when
        one is missing or older than a minute; the provider is never called from here
        (``services.provider_balances``)."""
        balances = provider_balances()
        if any(balance.stale for balance in balances) and provider_balances_refresh_request():
            balances = provider_balances()  # what a synchronous queue (tests) read meanwhile
        return balances

    def get_context_data(self, **kwargs):
        form = TeamSpendFilterForm(self.request.GET)
        first, last = form.date_range()
        period = form.chosen_period()
        report = team_spend(
            first=first,
            last=last,
            period=period,
            user_id=form.chosen_member(),
            provider=form.chosen_provider(),
            member_jobs=False,
        )
        # The chart shows the biggest spenders; the table below lists every member, a page
        # at a time, whose jobs are counted for that page only (issue #14).
        spenders = [m for m in report.members if m.credits][:MEMBER_CHART_BARS]
        page_obj = Paginator(report.members, MEMBERS_PER_PAGE).get_page(
            self.request.GET.get("page")
        )
        members = members_with_jobs(
            page_obj.object_list, first=first, last=last, provider=form.chosen_provider()
        )
        query = _query_without(self.request, "page")
        return super().get_context_data(
            form=form,
            report=report,
            periods=Period.choices,
            chosen_member=form.chosen_member(),
            member_query=_query_without(self.request, "page", "member"),
            member_rows=_member_rows(members, _query_without(self.request, "page", "member")),
            page_obj=page_obj,
            provider_choices=Provider.choices,
            provider_query=_query_without(self.request, "page", "provider"),
            balances=self.balances(),
            csv_url=f"{reverse('generations:team_spend_csv')}?{query}",
            bucket_rows=[(_period_label(b.start, period), b) for b in report.buckets],
            period_chart=_chart(
                [_period_label(b.start, period, short=True) for b in report.buckets],
                gettext("Credits spent"),
                [b.credits for b in report.buckets],
            ),
            member_chart=_chart(
                [m.username for m in spenders],
                gettext("Credits spent"),
                [m.credits for m in spenders],
                horizontal=True,
            ),
            mode_chart=_chart(
                [g.label for g in report.by_mode_resolution],
                gettext("Credits spent"),
                [g.credits for g in report.by_mode_resolution],
                horizontal=True,
            ),
            provider_chart=_chart(
                [g.label for g in report.by_provider],
                gettext("Credits spent"),
                [g.credits for g in report.by_provider],
                horizontal=True,
            ),
            **kwargs,
        )


TEAM_CSV_HEADER = [
    pgettext_lazy("CSV column", "period_start"),
    pgettext_lazy("CSV column", "member"),
    pgettext_lazy("CSV column", "provider"),
    pgettext_lazy("CSV column", "mode"),
    pgettext_lazy("CSV column", "resolution"),
    pgettext_lazy("CSV column", "sound"),
    pgettext_lazy("CSV column", "jobs"),
    pgettext_lazy("CSV column", "spent_credits"),
    pgettext_lazy("CSV column", "spent_usd"),
]


class TeamSpendCsvView(ManagerRequiredMixin, View):
    """Stream the team report as CSV: one row per period, member, provider, mode,
    resolution and sound, then a totals row (jobs, credits, USD) equal to the page's
    totals. Same filters as the page, ``?provider=`` included."""

    def get(self, request):
        form = TeamSpendFilterForm(request.GET)
        if not form.is_valid():
            return _bad_filters(form)
        first, last = form.date_range()
        period = form.chosen_period()
        spend = team_spend_rows(
            first=first,
            last=last,
            period=period,
            user_id=form.chosen_member(),
            provider=form.chosen_provider(),
        )

        header = [str(name) for name in TEAM_CSV_HEADER]  # in the request's language

        def rows() -> Iterator[list]:
            yield header
            jobs = credits = 0
            for row in spend:
                jobs += row.jobs
                credits += row.credits
                yield [
                    csv_moment(row.period_start),
                    _text(row.username),
                    row.provider,
                    row.mode,
                    row.resolution,
                    "" if row.sound is None else ("on" if row.sound else "off"),
                    row.jobs,
                    row.credits,
                    csv_usd(row.usd),
                ]
            yield ["TOTAL", "", "", "", "", "", jobs, credits, csv_credits_usd(credits)]

        return _csv_response(rows(), f"team-spend_{period}_{_range_slug(first, last)}.csv")
