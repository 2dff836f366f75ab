"""A test-only URL conf with an echo view, to exercise request parsing and error rendering
independently of any real endpoint."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scopes import ANY_SCOPE


class EchoApi(APIView):
    required_scope = ANY_SCOPE

    def post(self, request):
        return Response({"received": request.data})


urlpatterns = [path("api/v2/echo", EchoApi.as_view())]
