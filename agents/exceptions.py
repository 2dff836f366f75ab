from common.exceptions import ApplicationError


class ApprovalRequired(ApplicationError):
    """The SDK's rule: a whole-list run over the threshold waits for a human."""

    code = "approval_required"
    default_message = (
        'A lead_scope "all" run over this many leads needs approval: narrow it with '
        'lead_scope "subset" and max_rows, or ask an operator to raise the threshold.'
    )


class ModelNotConfigured(ApplicationError):
    code = "model_not_configured"
    default_message = (
        "This agent type needs a language model and none is configured "
        "(SLUICE_LLM_PROVIDER, SLUICE_LLM_BASE_URL, SLUICE_LLM_MODEL); title_normalizer, "
        "company_intel and cold_intro_email work without one."
    )
