"""The team file (params/team.yaml): accounts and roles, refused with one line naming the key."""

from __future__ import annotations

import pytest

from creditmine.config import project_root
from creditmine.config.team import load_team


def _team(tmp_path, text: str):
    path = tmp_path / "team.yaml"
    path.write_text(text, encoding="utf-8")
    return load_team(path)


def test_the_shipped_team_file_has_a_developer_and_two_validators():
    team = load_team(project_root() / "params" / "team.yaml")
    assert team.developers == ("dana",) and team.validators == ("li", "rui")
    assert team.admin not in team.accounts
    assert team.server.host == "127.0.0.1"  # loopback unless a gateway fronts it


@pytest.mark.parametrize(("text", "message"), [
    ("developers: [dana]\n", "key 'validators': Field required"),
    ("developers: [Dana]\nvalidators: [li]\n", "must be lower-case letters"),
    ("developers: [dana]\nvalidators: [li, li]\n", "accounts listed twice: ['li']"),
    ("admin: li\ndevelopers: [dana]\nvalidators: [li]\n", "the admin account 'li' manages users"),
    ("developers: [dana]\nvalidators: [li]\nserver: {port: 80}\n", "key 'server.port'"),
    ("developers: [dana]\nvalidators: [li]\npasswords: {li: x}\n", "key 'passwords'"),
])
def test_bad_team_files_are_refused_naming_the_key(tmp_path, text, message):
    with pytest.raises(ValueError, match=r"team.yaml: ") as caught:
        _team(tmp_path, text)
    assert message in str(caught.value)


def test_a_missing_team_file_is_named(tmp_path):
    with pytest.raises(ValueError, match="team file not found"):
        load_team(tmp_path / "nope.yaml")
