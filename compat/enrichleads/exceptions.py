"""The planner rejections this API names that Sluice's own API has no code for."""

from common.exceptions import ValidationFailed


class SubjectMismatch(ValidationFailed):
    code = "subject_mismatch"
    default_message = "The enrichment's subject does not match the leads in scope."


class OutputTargetUnsupported(ValidationFailed):
    code = "output_target_unsupported"
    default_message = "This output target is not supported; use overwrite or skip_existing."
