from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"

    def ready(self) -> None:
        # The seams into the apps below: enrichment runs an `agent` workflow's chunks through
        # this app, and credits counts a smart-agent estimate's rows here.
        from agents.llm import sandbox_model_check
        from agents.services import agent_chunk_process, smart_agent_rows
        from credits.counting import register_scope_counter
        from credits.models import Tool
        from enrichment import chunk_processors
        from enrichment.models import Workflow

        sandbox_model_check()
        chunk_processors.register(Workflow.Kind.AGENT, agent_chunk_process)
        register_scope_counter(Tool.RUN_SMART_AGENT, smart_agent_rows)
