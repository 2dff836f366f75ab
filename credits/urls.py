from django.urls import path

from credits.apis import CreditsBalanceApi, CreditsEstimateApi, LedgerListApi, UsageReportApi

urlpatterns = [
    path("credits/balance", CreditsBalanceApi.as_view(), name="credits-balance"),
    path("credits/estimate", CreditsEstimateApi.as_view(), name="credits-estimate"),
    path("credits/ledger", LedgerListApi.as_view(), name="credits-ledger"),
    path("usage", UsageReportApi.as_view(), name="usage"),
]
