from django.apps import AppConfig


class CompatConfig(AppConfig):
    """The seed vendors' own APIs (Lance, Enrich Leads, LocalLeads), served beside Cleanlist's:
    thin adapters over the same services (docs/compatibility.md)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "compat"
    verbose_name = "Vendor API dialects"
