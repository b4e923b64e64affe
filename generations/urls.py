"""URLs of the generations app."""

from django.urls import path

from .views import credits, gallery, generations, inputs, reports
from .views.bulk import GenerationBulkDeleteView, GenerationBulkView

app_name = "generations"

urlpatterns = [
    path("", generations.GenerationListView.as_view(), name="list"),
    path("library/", gallery.TeamLibraryView.as_view(), name="library"),
    path("new/", generations.GenerationCreateView.as_view(), name="new"),
    path("new/price/", generations.QuoteView.as_view(), name="quote"),
    path("credits/", generations.CreditsBarView.as_view(), name="credits"),
    path("credits/ask/", credits.CreditsRequestView.as_view(), name="credits_request"),
    path("updates/", generations.GenerationUpdatesView.as_view(), name="updates"),
    path("g/<int:pk>/", generations.GenerationDetailView.as_view(), name="detail"),
    path("g/<int:pk>/card/", generations.GenerationCardView.as_view(), name="card"),
    path("g/<int:pk>/status/", generations.GenerationStatusView.as_view(), name="status"),
    path("g/<int:pk>/video/", generations.GenerationVideoView.as_view(), name="video"),
    path("g/<int:pk>/favourite/", generations.GenerationFavouriteView.as_view(), name="favourite"),
    path("g/<int:pk>/share/", gallery.GenerationShareView.as_view(), name="share"),
    path("g/<int:pk>/poster/", generations.GenerationPosterView.as_view(), name="poster"),
    path(
        "g/<int:pk>/inputs/<int:input_pk>/thumbnail/",
        inputs.InputThumbnailView.as_view(),
        name="input_thumbnail",
    ),
    # The gallery's bulk actions (docs/storage.md "Bulk actions").
    path("bulk/", GenerationBulkView.as_view(), name="bulk"),
    path("bulk/delete/", GenerationBulkDeleteView.as_view(), name="bulk_delete"),
    path("usage/", reports.UsageView.as_view(), name="usage"),
    path("usage/statement.csv", reports.StatementCsvView.as_view(), name="statement_csv"),
    path("team/spend/", reports.TeamSpendView.as_view(), name="team_spend"),
    path("team/spend.csv", reports.TeamSpendCsvView.as_view(), name="team_spend_csv"),
]
