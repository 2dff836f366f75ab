import pytest

from accounts.selectors import workspace_find
from common.exceptions import NotFound
from tests.factories import WorkspaceFactory


def test_workspace_find_by_name_or_id(workspace):
    assert workspace_find(ref=workspace.name) == workspace
    assert workspace_find(ref=str(workspace.pk)) == workspace


def test_workspace_find_prefers_the_name_over_the_id(workspace):
    # given a workspace named like another one's id
    named_like_an_id = WorkspaceFactory(name=str(workspace.pk))
    # then the name wins
    assert workspace_find(ref=str(workspace.pk)) == named_like_an_id


@pytest.mark.parametrize("ref", ["nope", "00000000-0000-0000-0000-000000000000"])
def test_workspace_find_unknown_is_not_found(db, ref):
    with pytest.raises(NotFound, match="No workspace with id or name"):
        workspace_find(ref=ref)
