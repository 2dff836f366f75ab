from django.urls import path

from leads.list_apis import (
    CompanySearchApi,
    LeadListCollectionApi,
    LeadListItemApi,
    LeadListLeadsApi,
    PeopleSearchApi,
)

urlpatterns = [
    path("lead-lists", LeadListCollectionApi.as_view(), name="lead-lists"),
    path("lead-lists/<uuid:list_id>", LeadListItemApi.as_view(), name="lead-list"),
    path("lead-lists/<uuid:list_id>/leads", LeadListLeadsApi.as_view(), name="lead-list-leads"),
    path("search/people", PeopleSearchApi.as_view(), name="search-people"),
    path("search/companies", CompanySearchApi.as_view(), name="search-companies"),
]
