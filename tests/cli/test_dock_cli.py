from __future__ import annotations

import csv
from pathlib import Path

import typer
from typer.testing import CliRunner

from sciffusion.cli import dock as dock_cli

DATA = Path(__file__).parents[2] / "domains" / "docking" / "data"
POCKET = str(DATA / "6YQW_82I_pocket.pdb.gz")
runner = CliRunner()

OPTIONS = ("--protein", "--ligand", "--out", "--ref-ligand", "--center", "--size", "--residues", "--pocket-margin",
           "--samples", "--top-k", "--steps", "--sampler", "--seed", "--device", "--model", "--trust-checkpoint",
           "--confidence", "--batch-size", "--keep-conformer", "--conformers", "--blind-pockets", "--devices", "--num-nodes", "--max-heavy-atoms", "--overwrite",
           "--progress", "--refine-steps", "--rank-by", "--guidance-scale", "--posebusters",
           "--contact-penalty", "--ranker")


def _root() -> typer.Typer:
    """The command registered as in cli/main.py: ``app.command("dock")(dock.dock)``."""
    root = typer.Typer()
    root.command("dock")(dock_cli.dock)
    root.command("version")(lambda: None)  # a second command, so 'dock' is a sub-command as in the real app
    return root


def _dock(tmp_path: Path, *args: str, out: str = "out"):
    return runner.invoke(_root(), ["dock", "--protein", POCKET, "--out", str(tmp_path / out), "--model", "random",
                                   "--samples", "4", "--top-k", "2", "--no-progress", *args])


def test_help_lists_every_option():
    result = runner.invoke(_root(), ["dock", "--help"])
    assert result.exit_code == 0
    for option in OPTIONS:
        assert option in result.output, option
    assert "--no-progress" in result.output and "SX SY SZ" in result.output
    assert len(dock_cli.dock.__wrapped__.__code__.co_varnames[:dock_cli.dock.__wrapped__.__code__.co_argcount]) == \
        len(OPTIONS)  # every parameter of the command is in the list above


def test_dock_sdf_and_smiles(tmp_path):
    result = _dock(tmp_path, "--ligand", str(DATA / "6YQW_82I_ligand.sdf"), "--ref-ligand",
                   str(DATA / "6YQW_82I_ligand.sdf"))
    assert result.exit_code == 0, result.output
    assert "docked 1 of 1 ligand(s)" in result.output
    assert (tmp_path / "out" / "6YQW_82I" / "rank2.sdf").exists() and not (tmp_path / "out" / "6YQW_82I" / "rank3.sdf").exists()
    result = _dock(tmp_path, "--ligand", "C[C@H](N)C(=O)O", "--center", "-0.2", "13.6", "11.3",
                   "--size", "8", "8", "8", out="smiles")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "smiles" / "ligand" / "rank1.png").exists()


def test_csv_with_one_bad_smiles_exits_0(tmp_path):
    library = tmp_path / "lib.smi"
    library.write_text("CCO ethanol\nC1CC( broken\nc1ccccc1O phenol\n")
    result = _dock(tmp_path, "--ligand", str(library), "--residues", "A:45", "--pocket-margin", "6")
    assert result.exit_code == 0, result.output
    assert "docked 2 of 3 ligand(s), 1 failed" in result.output
    with open(tmp_path / "out" / "summary.csv", newline="") as handle:
        rows = {r["name"]: r for r in csv.DictReader(handle)}
    assert rows["broken"]["status"] == "failed" and rows["phenol"]["status"] == "ok"


def test_all_bad_input_is_a_one_line_error_and_leaves_nothing(tmp_path):
    result = _dock(tmp_path, "--ligand", "C1CC(")
    assert result.exit_code == 2
    assert result.output.startswith("error: C1CC(: no ligand docked") and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_broken_inputs_are_one_line_errors_that_leave_inputs_alone(tmp_path):
    protein = tmp_path / "protein.pdb.gz"
    protein.write_bytes(Path(POCKET).read_bytes())
    (tmp_path / "ligands").mkdir()
    cases = ((["--ligand", "C" * 300], "300 heavy atoms"),  # a SMILES longer than a file name: OSError before
             (["--ligand", str(tmp_path / "ligands")], "is a folder; --ligand takes"),
             (["--ligand", "CCO", "--protein", str(protein), "--out", str(protein), "--overwrite"],
              "is the --protein input"),  # replaced the protein file with the output folder before
             (["--ligand", "CCO", "--center", "0", "0", "0", "--size", "-1", "8", "8"], "--center/--size: box: "))
    for args, message in cases:
        result = _dock(tmp_path, *args, out="run")
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("error: ") and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    assert protein.read_bytes() == Path(POCKET).read_bytes() and not (tmp_path / "run").exists()


def test_pocket_conflicts_and_existing_out(tmp_path):
    for args, message in ((["--center", "0", "0", "0"], "--center/--size: give both"),
                          (["--residues", "A:45", "--ref-ligand", str(DATA / "6YQW_82I_ligand.sdf")],
                           "at most one pocket"),
                          (["--pocket-margin", "3"], "--pocket-margin: applies"),
                          (["--residues", ","], "--residues: no residue"),
                          (["--seed", "-1"], "--seed")):
        result = _dock(tmp_path, "--ligand", "CCO", *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("error: ") and message in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    assert _dock(tmp_path, "--ligand", "CCO").exit_code == 0
    again = _dock(tmp_path, "--ligand", "CCO")
    assert again.exit_code == 2 and "already exists (pass --overwrite" in again.output
    assert _dock(tmp_path, "--ligand", "CCO", "--overwrite").exit_code == 0


def test_top_k_defaults_to_at_most_the_samples(tmp_path):
    """--samples 3 without --top-k writes rank1..rank3 (the default 5 would exceed the samples)."""
    result = runner.invoke(_root(), ["dock", "--protein", POCKET, "--out", str(tmp_path / "out"), "--model", "random",
                                     "--samples", "3", "--no-progress", "--ligand", "CCO", "--center", "-0.2", "13.6",
                                     "11.3", "--size", "8", "8", "8"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out" / "ligand").glob("rank*.sdf")) == ["rank1.sdf", "rank2.sdf",
                                                                                       "rank3.sdf"]
    result = runner.invoke(_root(), ["dock", "--protein", POCKET, "--out", str(tmp_path / "o2"), "--model", "random",
                                     "--samples", "3", "--top-k", "4", "--ligand", "CCO"])
    assert result.exit_code != 0 and "--top-k: must be <= --samples (3), got 4" in result.output
