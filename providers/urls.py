from django.urls import path

from providers.apis import ProviderAnalyticsApi, WaterfallApi

urlpatterns = [
    path("waterfall", WaterfallApi.as_view(), name="waterfall"),
    path("providers/analytics", ProviderAnalyticsApi.as_view(), name="providers-analytics"),
]
