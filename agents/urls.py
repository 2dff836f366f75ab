from django.urls import path

from agents import apis

urlpatterns = [
    path("smart-agents", apis.SmartAgentListApi.as_view(), name="smart-agents"),
    path("smart-agents/run", apis.SmartAgentRunApi.as_view(), name="smart-agent-run"),
    path(
        "smart-agents/<str:smart_agent_task_id>",
        apis.SmartAgentResultsApi.as_view(),
        name="smart-agent-results",
    ),
]
