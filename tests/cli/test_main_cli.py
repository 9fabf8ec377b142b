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
