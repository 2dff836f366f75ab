from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from accounts.models import ApiKey, Workspace
from accounts.scopes import ALL_SCOPES
from accounts.services import api_key_create, api_key_revoke


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "tier", "credit_balance", "credits_held", "created_at")
    search_fields = ("name", "id")
    readonly_fields = ("id", "credit_balance", "credits_held", "created_at", "updated_at")
    list_select_related = ("credit_account",)

    # Grants go through `manage.py grant_credits` (the ledger); these only show the totals.
    @admin.display(description="balance")
    def credit_balance(self, obj: Workspace) -> int:
        account = getattr(obj, "credit_account", None)
        return account.balance if account else 0

    @admin.display(description="held")
    def credits_held(self, obj: Workspace) -> int:
        account = getattr(obj, "credit_account", None)
        return account.held if account else 0


class ApiKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in ALL_SCOPES], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ("workspace", "name", "scopes")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "name", "workspace", "is_active", "last_used_at", "created_at")
    list_filter = ("is_active", "workspace")
    search_fields = ("prefix", "name", "workspace__name")
    actions = ("revoke_keys",)
    readonly_fields = (
        "id",
        "workspace",
        "prefix",
        "last4",
        "scopes",
        "is_active",
        "revoked_at",
        "last_used_at",
        "created_at",
    )
    exclude = ("secret_hash",)

    def get_form(
        self, request: HttpRequest, obj: ApiKey | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()

    def get_fields(self, request, obj=None):
        return ("workspace", "name", "scopes") if obj is None else super().get_fields(request, obj)

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            obj.save(update_fields=["name", "updated_at"])
            return
        api_key, raw_key = api_key_create(
            workspace=form.cleaned_data["workspace"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
        )
        obj.pk = api_key.pk
        obj.refresh_from_db()
        # Shown by response_add on this very response, never carried to another request.
        messages.warning(
            request,
            f"New API key (shown once, copy it now): {raw_key}",
        )

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        """A page instead of the usual redirect: a message kept for the page after a redirect
        travels in the messages cookie, and this one holds the whole secret."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "API key created",
            "api_key": obj,
        }
        response = TemplateResponse(request, "admin/accounts/apikey/created.html", context)
        response.render()
        # Whatever the page showed or not, no message of this request is kept for the next.
        for _ in messages.get_messages(request):
            pass
        add_never_cache_headers(response)
        return response

    @admin.action(description="Revoke selected API keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        messages.success(request, f"Revoked {queryset.count()} key(s).")

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoke instead: usage history keeps pointing at the key
