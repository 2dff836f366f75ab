from django.urls import path

from accounts.apis import ApiKeyListApi, WhoamiApi

urlpatterns = [
    path("whoami", WhoamiApi.as_view(), name="whoami"),
    path("api-keys", ApiKeyListApi.as_view(), name="api-keys"),
]
