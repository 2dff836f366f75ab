"""What each agent type writes for one lead, from the lead's facts (read before any call, so this
module never touches the database and runs in worker threads).

| type | needs a model | without one | with one |
| --- | --- | --- | --- |
| title_normalizer | no | seniority, department, canonical title | the same (never asks) |
| company_intel | no | a brief from the company record | the brief, polished |
| cold_intro_email | no | the template filled from the lead | the filled template, polished |
| custom_ai | yes | refused at run and estimate | the key holder's prompt answered |
| pain_point_hypothesis | yes | refused at run and estimate | a hypothesis of the lead's pains |
"""

import re
from dataclasses import dataclass
from typing import Any

from agents import prompts
from agents.llm import LanguageModel, ModelError
from agents.titles import normalize_title
from common.exceptions import ValidationFailed
from credits.prices import AgentType

MODEL_REQUIRED = (AgentType.CUSTOM_AI, AgentType.PAIN_POINT_HYPOTHESIS)
# Types that ask the configured model, if there is one, to polish their deterministic draft.
MODEL_POLISHED = (AgentType.COMPANY_INTEL, AgentType.COLD_INTRO_EMAIL)
MAX_VALUE_CHARS = 2000

# The lead fields a template may name and a model may see. No email or phone: a model needs
# neither to write a line, so they never leave Sluice.
TEMPLATE_FIELDS = (
    "first_name", "last_name", "full_name", "title", "company", "domain", "industry", "location",
)  # fmt: skip
_PLACEHOLDER = re.compile(r"\{\{?\s*([A-Za-z_]+)\s*\}?\}")
DEFAULT_INTRO_TEMPLATE = (
    "Hi {first_name}, I came across {company} and your work as {title} — I would love to share "
    "an idea that could help your team."
)
PAIN_POINT_TASK = (
    "Write one hypothesis, in one or two sentences, of a business problem this person is likely "
    "to own in their role at their company, based only on the record."
)
INTRO_POLISH_TASK = (
    "Rewrite this cold email opening line so it reads naturally, keeping its facts and its "
    "meaning, in at most two sentences: "
)
INTEL_POLISH_TASK = (
    "Rewrite this company brief for a salesperson in at most three crisp sentences, keeping "
    "only its facts: "
)


@dataclass(frozen=True)
class LeadFacts:
    """One lead as the agents see it: its fields, and its company's record when Sluice holds
    one."""

    fields: dict[str, str]
    company: dict[str, Any] | None


@dataclass(frozen=True)
class RowResult:
    status: str  # an ItemStatus: completed (a value), not_found (nothing to work from), failed
    value: Any = None
    error: str = ""


def template_placeholders(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


def validate_request(*, agent_type: str, prompt: str | None) -> None:
    """What a run needs from its request, checked before anything is written."""
    if agent_type == AgentType.CUSTOM_AI and not (prompt or "").strip():
        raise ValidationFailed(details={"prompt": ["custom_ai runs your prompt: send one."]})
    if agent_type == AgentType.COLD_INTRO_EMAIL and prompt:
        unknown = sorted(set(template_placeholders(prompt)) - set(TEMPLATE_FIELDS))
        if unknown:
            raise ValidationFailed(
                details={
                    "prompt": [
                        f"Unknown template field(s): {', '.join(unknown)}. "
                        f"Known: {', '.join(TEMPLATE_FIELDS)}."
                    ]
                }
            )


def _fill(template: str, fields: dict[str, str]) -> tuple[str, list[str]]:
    missing: list[str] = []

    def value(match: re.Match) -> str:
        name = match.group(1)
        if not fields.get(name):
            missing.append(name)
            return ""
        return fields[name]

    # A regex substitution, not str.format: a template cannot reach attributes or indexes.
    return _PLACEHOLDER.sub(value, template), missing


def _company_brief(facts: LeadFacts) -> str | None:
    company = facts.company or {}
    name = company.get("name") or facts.fields.get("company")
    domain = company.get("domain") or facts.fields.get("domain")
    if not name and not domain:
        return None
    head = name or domain
    if name and domain:
        head = f"{name} ({domain})"
    details = []
    industry = company.get("industry") or facts.fields.get("industry")
    if industry:
        details.append(industry)
    size = company.get("employee_count_range") or (
        f"{company['employee_count']} employees" if company.get("employee_count") else ""
    )
    if size:
        details.append(
            f"{size} employees" if size[:1].isdigit() and "employee" not in size else size
        )
    funding = company.get("funding_stage")
    if funding:
        total = company.get("total_funding_usd")
        details.append(f"{funding} (${total / 1_000_000:.0f}M raised)" if total else funding)
    location = company.get("hq_location") or ""
    if location:
        details.append(f"HQ {location}")
    brief = f"{head}: {', '.join(details)}." if details else f"{head}."
    stack = company.get("tech_stack") or []
    if stack:
        brief += f" Tech stack: {', '.join(str(t) for t in stack[:8])}."
    return brief


def _polish(model: LanguageModel | None, task: str, draft: str, facts: LeadFacts) -> str:
    """The model's rewrite of `draft`, or the draft itself when there is no model or it fails
    (the draft is a value in its own right)."""
    if model is None:
        return draft
    system, user = prompts.conversation(task=task + draft, facts=facts.fields)
    try:
        return model.complete(system=system, user=user)[:MAX_VALUE_CHARS]
    except ModelError:
        return draft


def produce(
    *, agent_type: str, prompt: str, facts: LeadFacts, model: LanguageModel | None
) -> RowResult:
    """One lead's value. Never raises for a lead's data; a model's failure fails the row."""
    if agent_type == AgentType.TITLE_NORMALIZER:
        normalized = normalize_title(facts.fields.get("title", ""))
        if normalized is None:
            return RowResult("not_found", error="the lead has no title")
        return RowResult("completed", value=normalized.as_value())
    if agent_type == AgentType.COMPANY_INTEL:
        brief = _company_brief(facts)
        if brief is None:
            return RowResult("not_found", error="no company is known for this lead")
        return RowResult("completed", value=_polish(model, INTEL_POLISH_TASK, brief, facts))
    if agent_type == AgentType.COLD_INTRO_EMAIL:
        line, missing = _fill(prompt or DEFAULT_INTRO_TEMPLATE, facts.fields)
        if missing:
            return RowResult(
                "not_found", error=f"the lead has no {', '.join(sorted(set(missing)))}"
            )
        return RowResult("completed", value=_polish(model, INTRO_POLISH_TASK, line, facts))
    if model is None:
        return RowResult("failed", error="no language model is configured")
    task = prompt if agent_type == AgentType.CUSTOM_AI else PAIN_POINT_TASK
    system, user = prompts.conversation(task=task, facts=facts.fields)
    try:
        return RowResult(
            "completed", value=model.complete(system=system, user=user)[:MAX_VALUE_CHARS]
        )
    except ModelError as exc:
        return RowResult("failed", error=str(exc))
