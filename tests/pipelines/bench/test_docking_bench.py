"""`bench docking`: the crystal pose scored against itself is RMSD 0 on every complex; files written at once."""
import csv
import json
from pathlib import Path

import pytest
from rdkit import Chem

from sciffusion.pipelines.bench.docking import DockingBenchConfig, parse_prediction, run_docking_bench

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
IDS = ("6YQW_82I", "6XG5_TOP")


def _index(tmp_path: Path, ids=IDS) -> Path:
    path = tmp_path / "index.csv"
    lines = ["id,protein,ligand"] + [f"{cid},{DATA / f'{cid}_protein.pdb.gz'},{DATA / f'{cid}_ligand.sdf'}"
                                     for cid in ids]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_crystal_method_is_rmsd_zero_and_every_file_is_written(tmp_path):
    out = tmp_path / "bench"
    logged = []
    summaries = run_docking_bench(DockingBenchConfig(index=_index(tmp_path), out=out, methods=("crystal",),
                                                     posebusters=False), log=logged.append)
    assert [s["method"] for s in summaries] == ["crystal"]
    assert summaries[0]["per_seed"]["0"]["top1_rmsd_lt1"] == 1.0 and summaries[0]["per_seed"]["0"]["n"] == 2
    with open(out / "crystal_report" / "per_complex.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["id"] for r in rows) == sorted(IDS) and all(float(r["top1_rmsd"]) < 1e-6 for r in rows)
    assert (out / "ids.txt").read_text().split() == list(IDS)
    assert json.loads((out / "summary.json").read_text())["crystal"]["top1_rmsd_lt2"]["mean"] == 1.0
    report = json.loads((out / "crystal_report" / "summary.json").read_text())
    assert report["pred"] == str(out / "crystal") and report["ref"] == str(out / "ref")  # not the temporary
    assert "crystal" in (out / "table.txt").read_text()
    assert (out / "rmsd_cdf.png").stat().st_size > 1000
    assert any("evaluating 2 complexes" in line for line in logged)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_external_predictions_are_scored_next_to_the_methods(tmp_path):
    pred = tmp_path / "mine"
    (pred / IDS[0]).mkdir(parents=True)
    (pred / IDS[0] / "rank1.sdf").write_text((DATA / f"{IDS[0]}_ligand.sdf").read_text())  # only one of two
    out = tmp_path / "bench"
    summaries = run_docking_bench(DockingBenchConfig(index=_index(tmp_path), out=out, methods=("crystal",),
                                                     predictions=(("mine", pred),), posebusters=False),
                                  log=lambda s: None)
    by = {s["method"]: s["per_seed"]["0"] for s in summaries}
    assert by["crystal"]["top1_rmsd_lt2"] == 1.0
    assert by["mine"]["top1_rmsd_lt2"] == 0.5 and by["mine"]["n_missing"] == 1  # a missing prediction fails


def test_an_existing_out_is_refused_before_any_work(tmp_path):
    out = tmp_path / "bench"
    out.mkdir()
    with pytest.raises(FileExistsError, match="--overwrite"):
        run_docking_bench(DockingBenchConfig(index=_index(tmp_path), out=out, methods=("crystal",),
                                             posebusters=False), log=lambda s: None)
    assert list(out.iterdir()) == []


def test_a_failed_run_leaves_nothing(tmp_path):
    index = tmp_path / "index.csv"
    index.write_text(f"id,protein,ligand\nX,{tmp_path / 'missing.pdb'},{DATA / '6YQW_82I_ligand.sdf'}\n")
    out = tmp_path / "bench"
    with pytest.raises(FileNotFoundError, match="missing.pdb"):
        run_docking_bench(DockingBenchConfig(index=index, out=out, methods=("crystal",), posebusters=False),
                          log=lambda s: None)
    assert not out.exists() and [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_config_and_pred_parsing_reject_bad_input(tmp_path):
    index = _index(tmp_path)
    with pytest.raises(ValueError, match="--methods: unknown diffdock"):
        DockingBenchConfig(index=index, out=tmp_path / "o", methods=("crystal", "diffdock"))
    with pytest.raises(ValueError, match="used twice: crystal"):
        DockingBenchConfig(index=index, out=tmp_path / "o", methods=("crystal",), predictions=(("crystal", tmp_path),))
    with pytest.raises(FileNotFoundError, match="--pred"):
        DockingBenchConfig(index=index, out=tmp_path / "o", predictions=(("mine", tmp_path / "nope"),))
    with pytest.raises(FileNotFoundError, match="--index"):
        DockingBenchConfig(index=tmp_path / "nope.csv", out=tmp_path / "o")
    with pytest.raises(ValueError, match="--top-k"):
        DockingBenchConfig(index=index, out=tmp_path / "o", top_k=0)
    assert parse_prediction("mine=runs/x") == ("mine", Path("runs/x"))
    with pytest.raises(ValueError, match="NAME=PRED_DIR"):
        parse_prediction("runs/x")


def test_dock_methods_run_sciffusion_dock_on_every_complex(tmp_path):
    """--dock random=random: the random-pose control docked in this process, one folder per complex,
    timing.csv for the evaluation, far from the crystal pose (a control that found it would be a bug)."""
    index = tmp_path / "index.csv"
    index.write_text("id,protein,ligand,pocket_ligand\n" + "".join(
        f"{cid},{DATA / f'{cid}_protein.pdb.gz'},{DATA / f'{cid}_ligand.sdf'},{DATA / f'{cid}_ligand.sdf'}\n"
        for cid in IDS))
    out = tmp_path / "bench"
    summaries = run_docking_bench(DockingBenchConfig(index=index, out=out, methods=("crystal",),
                                                     docked=(("random", "random"),), samples=3, top_k=2,
                                                     posebusters=False), log=lambda s: None)
    by = {s["method"]: s["per_seed"]["0"] for s in summaries}
    assert by["crystal"]["top1_rmsd_lt2"] == 1.0
    assert by["random"]["n"] == 2 and by["random"]["n_missing"] == 0
    for cid in IDS:
        assert sorted(p.name for p in (out / "random" / cid).glob("rank*.sdf")) == ["rank1.sdf", "rank2.sdf"]
    with open(out / "random_report" / "per_complex.csv") as fh:
        assert all(float(r["top1_rmsd"]) > 2.0 for r in csv.DictReader(fh))
    assert (out / "random" / "timing.csv").read_text().startswith("id,seconds\n")
    assert json.loads((out / "config.json").read_text())["docked"] == [["random", "random"]]
    assert not any(p.name.startswith(".") for p in out.iterdir())


def test_dock_method_errors_are_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.ckpt: model checkpoint of mine not found"):
        DockingBenchConfig(index=_index(tmp_path), out=tmp_path / "b", docked=(("mine", "nope.ckpt"),))
    with pytest.raises(ValueError, match="--dock: bad method name"):
        DockingBenchConfig(index=_index(tmp_path), out=tmp_path / "b", docked=(("a/b", "random"),))


def test_dock_methods_over_several_seeds_and_blind(tmp_path):
    """--seeds 0,1: one run per seed under seed_<s>/, the report has both seeds; --blind ignores the
    index's pocket (the docked config says blind); bad seed lists are one-line errors."""
    index = tmp_path / "index.csv"
    index.write_text("id,protein,ligand,pocket_ligand\n" + "".join(
        f"{cid},{DATA / f'{cid}_protein.pdb.gz'},{DATA / f'{cid}_ligand.sdf'},{DATA / f'{cid}_ligand.sdf'}\n"
        for cid in IDS))
    out = tmp_path / "bench"
    summaries = run_docking_bench(DockingBenchConfig(index=index, out=out, methods=(), docked=(("random", "random"),),
                                                     samples=2, top_k=1, seeds=(0, 1), conformers=2,
                                                     posebusters=False), log=lambda s: None)
    (random,) = summaries
    assert sorted(random["per_seed"]) == ["0", "1"] and all(v["n"] == 2 for v in random["per_seed"].values())
    for seed in (0, 1):
        assert (out / "random" / f"seed_{seed}" / "timing.csv").is_file()
        assert sorted(p.name for p in (out / "random" / f"seed_{seed}").iterdir() if p.is_dir()) == sorted(IDS)
    first = (out / "random" / "seed_0" / IDS[0] / "rank1.sdf").read_text()
    assert first != (out / "random" / "seed_1" / IDS[0] / "rank1.sdf").read_text()  # seeds differ
    blind = tmp_path / "blind"
    run_docking_bench(DockingBenchConfig(index=index, out=blind, methods=(), docked=(("random", "random"),),
                                         samples=2, top_k=1, blind=True, blind_pockets=1, posebusters=False),
                      log=lambda s: None)
    assert json.loads((blind / "config.json").read_text())["blind"] is True
    with pytest.raises(ValueError, match="--seeds: need distinct seeds"):
        DockingBenchConfig(index=index, out=tmp_path / "x", docked=(("random", "random"),), seeds=(1, 1))


def test_physics_control_as_a_dock_method(tmp_path):
    """--dock physics=physics: the physics control docked in this process, its rank files ordered by the
    Vina-like score; bad --rank-by is a one-line error before any work."""
    index = tmp_path / "index.csv"
    index.write_text("id,protein,ligand,pocket_ligand\n" + "".join(
        f"{cid},{DATA / f'{cid}_pocket.pdb.gz'},{DATA / f'{cid}_ligand.sdf'},{DATA / f'{cid}_ligand.sdf'}\n"
        for cid in IDS))
    out = tmp_path / "bench"
    summaries = run_docking_bench(DockingBenchConfig(index=index, out=out, methods=("crystal",), refine_steps=5,
                                                     docked=(("physics", "physics"),), samples=2, top_k=2,
                                                     posebusters=False), log=lambda s: None)
    by = {s["method"]: s["per_seed"]["0"] for s in summaries}
    assert by["physics"]["n_missing"] == 0
    for folder in (p for p in (out / "physics").iterdir() if p.is_dir()):
        ranks = [Chem.SDMolSupplier(str(folder / f"rank{k}.sdf"))[0] for k in (1, 2)]
        assert float(ranks[0].GetProp("confidence")) >= float(ranks[1].GetProp("confidence"))  # −vina_score
    with pytest.raises(ValueError, match="--rank-by: must be one of"):
        DockingBenchConfig(index=index, out=tmp_path / "b", docked=(("p", "physics"),), rank_by="best")
