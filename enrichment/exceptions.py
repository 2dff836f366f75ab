from common.exceptions import ValidationFailed


class SubsetViolation(ValidationFailed):
    default_message = "entity_ids must be a strict subset of the task's cohort."
