from django.urls import include, path

# Lists, leads, cohorts and search; imports and exports.
urlpatterns = [
    path("", include("leads.list_urls")),
    path("", include("leads.io_urls")),
]
