import re

from typer.testing import CliRunner

from sciffusion.cli.main import app

runner = CliRunner()


def test_help_describes_every_group():
    """``sciffusion --help`` lists each command group with a description of what it does, not a
    placeholder such as "demo commands."."""
    r = runner.invoke(app, ["--help"], terminal_width=200)
    assert r.exit_code == 0
    groups = [g.name for g in app.registered_groups]
    assert {"demo", "bench", "docking", "video"} <= set(groups)
    for group in app.registered_groups:
        row = next((line for line in r.output.splitlines() if re.search(rf"\b{group.name}\b\s{{2,}}\S", line)), None)
        assert row is not None, f"{group.name} is not listed with a description:\n{r.output}"
        description = row.split(group.name, 1)[1].strip(" │|")
        assert description.lower() != f"{group.name} commands.", row
        assert len(description.split()) >= 4, row


def test_every_option_of_every_command_has_a_help_line():
    import typer

    from sciffusion.cli.main import app

    missing = []

    def walk(command, path):
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, path + [name])
        if not getattr(command, "commands", None):
            missing.extend(f"{' '.join(path)} {p.opts[0]}" for p in command.params
                           if p.param_type_name == "option" and p.name != "help" and not p.help)

    walk(typer.main.get_command(app), ["sciffusion"])
    assert not missing, missing
