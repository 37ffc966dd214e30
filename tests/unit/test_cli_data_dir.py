"""Every CLI command that opens the database takes the same --data-dir (env NCII_SHIELD_DATA) as
`serve`, so the keys it reads (feed signing, personal data, contact) are the server's (issue 22, item 1)."""

from __future__ import annotations

import typer.main

from ncii_shield.cli.main import app


def commands(group, path: str = "ncii-shield"):  # noqa: ANN001, ANN201 - typer's own (vendored) click
    if hasattr(group, "commands"):
        for name, command in group.commands.items():
            yield from commands(command, f"{path} {name}")
    else:
        yield path, group


def test_every_command_with_db_takes_data_dir():
    found = dict(commands(typer.main.get_command(app)))
    with_db = {path: c for path, c in found.items() if any("--db" in p.opts for p in c.params)}
    assert "ncii-shield feed publish" in with_db and len(with_db) > 20
    missing = []
    for path, command in with_db.items():
        option = next((p for p in command.params if "--data-dir" in p.opts), None)
        if option is None or option.envvar != "NCII_SHIELD_DATA":
            missing.append(path)
    assert not missing, f"no --data-dir (env NCII_SHIELD_DATA) on: {missing}"


def test_data_dir_points_the_process_at_the_directory(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    for name in ("NCII_SHIELD_DATA", "NCII_SHIELD_DB"):  # restored after the test (the option sets the first)
        monkeypatch.setenv(name, "unused")
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["keys", "create", "--scope", "match", "--data-dir", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x" / "ncii-shield.db").exists() and not (tmp_path / "data").exists()
