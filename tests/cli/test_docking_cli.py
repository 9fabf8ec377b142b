from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from sciffusion.cli.main import app

DATA = Path(__file__).parents[2] / "domains" / "docking" / "data"
runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["docking", "--help"])
    assert result.exit_code == 0
    for command in ("prepare", "evaluate", "baseline", "make-index", "check-ligands"):
        assert command in result.output
    top = " ".join(runner.invoke(app, ["--help"]).output.split())
    assert "docking commands." not in top and "Vina baseline" in top and "check ligand files" in top
    assert "vina" in runner.invoke(app, ["docking", "baseline", "--help"]).output


def test_prepare_and_evaluate_round_trip(tmp_path):
    index = tmp_path / "index.csv"
    index.write_text("id,protein,ligand,pocket_ligand\n"
                     f"6YQW_82I,{DATA}/6YQW_82I_pocket.pdb.gz,{DATA}/6YQW_82I_ligand.sdf,{DATA}/6YQW_82I_ligand.sdf\n")
    result = runner.invoke(app, ["docking", "prepare", "--index", str(index), "--out", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert "prepared 1" in result.output and (tmp_path / "cache" / "6YQW_82I.pt").exists()
    pred = tmp_path / "pred" / "6YQW_82I"
    pred.mkdir(parents=True)
    shutil.copy(DATA / "6YQW_82I_ligand.sdf", pred / "rank1.sdf")
    args = ["docking", "evaluate", "--pred", str(tmp_path / "pred"), "--ref", str(DATA),
            "--out", str(tmp_path / "report"), "--no-posebusters", "--name", "crystal"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "crystal" in result.output and "100.0%" in result.output
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["per_seed"]["0"]["top1_rmsd_lt2"] == 1.0
    again = runner.invoke(app, args)  # never overwrite an existing report
    assert again.exit_code == 2 and "already exists" in again.output


def test_bad_inputs_give_one_line_error_and_exit_2(tmp_path):
    result = runner.invoke(app, ["docking", "prepare", "--index", str(tmp_path / "none.csv"), "--out", str(tmp_path / "c")])
    assert result.exit_code == 2 and "none.csv: index file not found" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = runner.invoke(app, ["docking", "evaluate", "--pred", str(tmp_path), "--ref", str(DATA),
                                 "--out", str(tmp_path / "r"), "--top-k", "0"])
    assert result.exit_code == 2 and "--top-k" in result.output
    result = runner.invoke(app, ["docking", "baseline", "vina", "--index", str(tmp_path / "i.csv"),
                                 "--out", str(tmp_path / "o"), "--workers", "0"])
    assert result.exit_code == 2 and "--workers" in result.output


def test_make_index(tmp_path):
    root = tmp_path / "data"
    (root / "splits").mkdir(parents=True)
    (root / "train_pdb_ccd").mkdir()
    (root / "train_pdb_ccd" / "1ABC_ligand.sdf").write_text("")
    (root / "splits" / "train.txt").write_text("1ABC\n")
    out = tmp_path / "index.csv"
    result = runner.invoke(app, ["docking", "make-index", "--data-root", str(root), "--out", str(out), "--splits", "train"])
    assert result.exit_code == 0 and "1 complexes" in result.output
    assert out.read_text().splitlines()[1].startswith("1ABC,")
    again = runner.invoke(app, ["docking", "make-index", "--data-root", str(root), "--out", str(out), "--splits", "train"])
    assert again.exit_code == 2 and "already exists" in again.output


def test_make_index_on_a_users_folder_then_prepare(tmp_path, monkeypatch):
    """A relative folder of <id>_protein/<id>_ligand pairs: the index resolves from its own folder."""
    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(DATA / "6YQW_82I_ligand.sdf", mine / "6YQW_82I_ligand.sdf")
    shutil.copy(DATA / "6YQW_82I_pocket.pdb.gz", mine / "6YQW_82I_protein.pdb.gz")
    (tmp_path / "idx").mkdir()
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["docking", "make-index", "--data-root", "mine", "--out", "idx/index.csv"])
    assert result.exit_code == 0 and "1 complexes" in result.output, result.output
    assert (tmp_path / "idx" / "index.csv").read_text().splitlines()[1].startswith("6YQW_82I,../mine/")
    result = runner.invoke(app, ["docking", "prepare", "--index", "idx/index.csv", "--out", "cache", "--conformers", "1"])
    assert result.exit_code == 0 and "prepared 1" in result.output, result.output
    csv_list = tmp_path / "list.csv"
    csv_list.write_text("id,protein,ligand\nA,mine/6YQW_82I_protein.pdb.gz,mine/6YQW_82I_ligand.sdf\n")
    result = runner.invoke(app, ["docking", "make-index", "--csv", "list.csv", "--out", "idx/from_csv.csv"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "idx" / "from_csv.csv").read_text().splitlines()[1].startswith("A,../mine/")
    both = runner.invoke(app, ["docking", "make-index", "--csv", "list.csv", "--data-root", "mine", "--out", "x.csv"])
    assert both.exit_code == 2 and "give exactly one of them" in both.output
    splits = runner.invoke(app, ["docking", "make-index", "--data-root", "mine", "--splits", "train", "--out", "y.csv"])
    assert splits.exit_code == 2 and "has no splits/ folder" in splits.output
    bad = runner.invoke(app, ["docking", "prepare", "--index", "idx/index.csv", "--out", "c2", "--conformers", "-1"])
    assert bad.exit_code == 2 and "--conformers: must be >= 0" in bad.output


def test_check_ligands_reports_every_record_and_fails_on_bad_ones(tmp_path):
    first, second = (DATA / "6YQW_82I_ligand.sdf").read_text(), (DATA / "6XG5_TOP_ligand.sdf").read_text()
    cut = "".join(second.splitlines(keepends=True)[:12])
    mixed = tmp_path / "mixed.sdf"
    mixed.write_text(first + "garbage line\nmore garbage\n" + cut + second)
    result = runner.invoke(app, ["docking", "check-ligands", str(mixed)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 5
    assert lines[0].endswith("record 1 (6YQW_82I), lines 1-40: ok")
    assert "record 2, lines 41-42: not a molecule record" in lines[1]
    assert "record 3 (6XG5_TOP), lines 43-54: truncated" in lines[2]
    assert lines[3].endswith("record 4 (6XG5_TOP), lines 55-115: ok")
    assert lines[4].endswith("4 record(s): 2 ok, 2 failed")
    good = runner.invoke(app, ["docking", "check-ligands", str(DATA / "6XG5_TOP_ligand.sdf")])
    assert good.exit_code == 0 and good.output.strip().endswith("1 record(s): 1 ok, 0 failed")
    missing = runner.invoke(app, ["docking", "check-ligands", str(tmp_path / "none.sdf")])
    assert missing.exit_code == 2 and "none.sdf: ligand file not found" in missing.output


def test_check_ligands_reports_what_dock_would_refuse(tmp_path):
    """Salts are ok and their counter-ions named; mixtures and oversized ligands fail, as in dock."""
    smi = tmp_path / "lib.smi"
    smi.write_text("CCN(CC)CC.Cl salt\nCCO.OCC mixture\nCCCCCCCCCCCC long\nCCO ethanol\n")
    result = runner.invoke(app, ["docking", "check-ligands", str(smi), "--max-heavy-atoms", "10"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].endswith("(salt): ok, a salt: docked without Cl"), lines
    assert "(mixture)" in lines[1] and "2 disconnected fragments" in lines[1] and "no single main one" in lines[1]
    assert "(long)" in lines[2] and "12 heavy atoms, more than the limit of 10" in lines[2]
    assert lines[3].endswith("(ethanol): ok") and lines[4].endswith("4 record(s): 2 ok, 2 failed")


def test_prepare_exits_non_zero_when_nothing_was_prepared(tmp_path):
    index = tmp_path / "index.csv"
    index.write_text("id,protein,ligand\n"
                     f"A,{tmp_path}/missing.pdb,{DATA}/6YQW_82I_ligand.sdf\n"
                     f"B,{DATA}/6YQW_82I_pocket.pdb.gz,{tmp_path}/missing.sdf\n")
    result = runner.invoke(app, ["docking", "prepare", "--index", str(index), "--out", str(tmp_path / "cache")])
    assert result.exit_code == 1
    assert "prepared 0 (already cached 0), failed 2 of 2" in result.output
    assert "error: " in result.output and "nothing prepared, all 2 complexes failed" in result.output


def test_errors_name_their_input(tmp_path):
    binary = tmp_path / "index.csv"
    binary.write_bytes(b"id,protein,ligand\n\xff\xfe\x00\x81\n")
    result = runner.invoke(app, ["docking", "prepare", "--index", str(binary), "--out", str(tmp_path / "c")])
    assert result.exit_code == 2 and result.output.startswith(f"error: {binary}: not UTF-8 text")
    assert "codec" not in result.output
    for margin in ("nan", "inf", "-1"):
        result = runner.invoke(app, ["docking", "prepare", "--index", str(binary), "--out", str(tmp_path / "c"),
                                     "--pocket-margin", margin])
        assert result.exit_code == 2 and "error: --pocket-margin: must be a finite number >= 0" in result.output
    for seed in ("-1", str(2**32)):
        result = runner.invoke(app, ["docking", "baseline", "vina", "--index", str(binary),
                                     "--out", str(tmp_path / "o"), "--seed", seed])
        assert result.exit_code == 2 and result.output.startswith("error: --seed: must be an integer in [0, ")
        assert len(result.output.strip().splitlines()) == 1
    pred = tmp_path / "pred"
    (pred / "6YQW_82I").mkdir(parents=True)
    shutil.copy(DATA / "6YQW_82I_ligand.sdf", pred / "6YQW_82I" / "rank1.sdf")
    (pred / "timing.csv").write_text("id,seconds\n6YQW_82I,fast\n")
    result = runner.invoke(app, ["docking", "evaluate", "--pred", str(pred), "--ref", str(DATA),
                                 "--out", str(tmp_path / "r"), "--no-posebusters"])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {pred / 'timing.csv'}: line 2: seconds must be a number >= 0, got 'fast'"


def test_evaluate_names_the_method_after_the_pred_folder(tmp_path):
    (tmp_path / "mine" / "6YQW_82I").mkdir(parents=True)
    shutil.copy(DATA / "6YQW_82I_ligand.sdf", tmp_path / "mine" / "6YQW_82I" / "rank1.sdf")
    result = runner.invoke(app, ["docking", "evaluate", "--pred", str(tmp_path / "mine"), "--ref", str(DATA),
                                      "--out", str(tmp_path / "report"), "--no-posebusters"])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines() if line.startswith("mine")]
    assert rows and rows[0][1] == "1" and rows[0][3] == "100.0%"


def test_train_ranker_and_screen_bad_inputs_are_one_line(tmp_path):
    result = runner.invoke(app, ["docking", "train-ranker", "--train", "no-equals-sign", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "expected PRED_DIR=REF_DIR" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = runner.invoke(app, ["docking", "train-ranker", "--train", f"{tmp_path / 'none'}={DATA}",
                                 "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "prediction folder not found" in result.output and not (tmp_path / "r").exists()
    result = runner.invoke(app, ["bench", "docking-screen", "--protein", str(DATA / "6XG5_TOP_protein.pdb.gz"),
                                 "--ref-ligand", str(DATA / "6XG5_TOP_ligand.sdf"), "--ligands",
                                 str(tmp_path / "none.csv"), "--out", str(tmp_path / "s")])
    assert result.exit_code == 2 and "none.csv: file not found (--ligands)" in result.output
    assert "--vina-count" in runner.invoke(app, ["bench", "docking-screen", "--help"]).output


def test_broken_inputs_of_index_prepare_evaluate_and_check_are_one_line(tmp_path):
    paths = tmp_path / "paths.csv"
    paths.write_text(f"id,protein,ligand\nA,{DATA}/6YQW_82I_pocket.pdb.gz,{DATA}/6YQW_82I_ligand.sdf\n")
    before = paths.read_text()
    binary = tmp_path / "ligands.smi"
    binary.write_bytes(b"\xff\xfeC\x00C\x00O\x00\n")
    empty_pose = tmp_path / "pred" / "6YQW_82I" / "rank1.sdf"
    empty_pose.parent.mkdir(parents=True)
    empty_pose.write_bytes(b"")
    cases = ((["docking", "make-index", "--csv", str(paths), "--out", str(paths), "--overwrite"], 2,
              "is the --csv input"),  # rewrote the user's CSV before
             (["docking", "prepare", "--index", str(paths), "--out", str(paths)], 2, "is a file, not a cache folder"),
             (["docking", "check-ligands", str(binary)], 2, "ligands.smi: not UTF-8 text"),  # no file name before
             (["docking", "evaluate", "--pred", str(tmp_path / "pred"), "--ref", str(DATA), "--out",
               str(tmp_path / "pred"), "--overwrite", "--no-posebusters"], 2, "is the --pred input"))
    for args, code, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == code, (args, result.output)
        assert result.output.startswith("error: ") and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    assert paths.read_text() == before and empty_pose.exists()
    result = runner.invoke(app, ["docking", "evaluate", "--pred", str(tmp_path / "pred"), "--ref", str(DATA),
                                 "--out", str(tmp_path / "report"), "--no-posebusters"])
    assert result.exit_code == 0, result.output  # an empty pose file is a failed pose (OSError before)
