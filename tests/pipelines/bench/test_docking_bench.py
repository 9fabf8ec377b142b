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


def test_dock_spec_settings_override_the_bench_defaults_per_method(tmp_path):
    from sciffusion.pipelines.bench.docking import parse_dock_spec

    cfg = DockingBenchConfig(index=_index(tmp_path), out=tmp_path / "b", methods=("crystal",), refine_steps=7,
                             guidance_scale=0.5)
    plain = parse_dock_spec("m.pt+c.pt", cfg)
    assert (plain.model, plain.confidence, plain.refine_steps, plain.guidance_scale, plain.rank_by) == (
        "m.pt", Path("c.pt"), 7, 0.5, None)
    own = parse_dock_spec("m.pt+c.pt@guidance=0.25,refine=100,rank=vina", cfg)
    assert (own.model, own.confidence, own.refine_steps, own.guidance_scale, own.rank_by) == (
        "m.pt", Path("c.pt"), 100, 0.25, "vina")
    assert parse_dock_spec("physics@refine=50", cfg).guidance_scale == 0.0  # controls are never guided
    assert parse_dock_spec("a@b/m.pt", cfg).model == "a@b/m.pt"  # an '@' in a path without settings
    with pytest.raises(ValueError, match="bad setting 'speed=2'"):
        parse_dock_spec("m.pt@speed=2", cfg)
    with pytest.raises(ValueError, match="refine='many'"):
        parse_dock_spec("m.pt@refine=many", cfg)


def test_pb_top_k_checks_only_the_first_poses_and_vina_ratios(tmp_path):
    from sciffusion.pipelines.docking.report import format_ratios

    out = tmp_path / "bench"
    pred = tmp_path / "mine"
    for cid in IDS:
        (pred / cid).mkdir(parents=True)
        for k in (1, 2):
            (pred / cid / f"rank{k}.sdf").write_text((DATA / f"{cid}_ligand.sdf").read_text())
    summaries = run_docking_bench(DockingBenchConfig(index=_index(tmp_path), out=out, methods=("crystal",),
                                                     predictions=(("mine", pred),), top_k=2, pb_top_k=1),
                                  log=lambda s: None)
    poses = list(csv.DictReader(open(out / "mine_report" / "per_pose.csv")))
    assert {r["rank"]: r["pb_valid"] for r in poses if r["id"] == IDS[0]} == {"1": "True", "2": "False"}
    stats = summaries[1]["per_seed"]["0"]
    assert stats["top1_rmsd_lt2_pb_valid"] == 1.0 and "topk_rmsd_lt2_pb_valid" not in stats
    with pytest.raises(ValueError, match="--pb-top-k"):
        DockingBenchConfig(index=_index(tmp_path), out=tmp_path / "x", methods=("crystal",), top_k=2, pb_top_k=3)
    half = dict(summaries[1], method="half", mean_sd={k: {"mean": v["mean"] / 2, "sd": 0.0}
                                                      for k, v in summaries[1]["mean_sd"].items()})
    lines = format_ratios([summaries[1], half], "mine").splitlines()
    assert lines[1].split()[:3] == ["mine", "1.00", "1.00"] and lines[2].split()[:3] == ["half", "0.50", "0.50"]
    with pytest.raises(ValueError, match="reference method 'vina'"):
        format_ratios(summaries, "vina")


def test_dock_spec_contact_flag(tmp_path):
    from sciffusion.pipelines.bench.docking import parse_dock_spec

    cfg = DockingBenchConfig(index=_index(tmp_path), out=tmp_path / "b", methods=("crystal",))
    assert parse_dock_spec("m.pt", cfg).contact_penalty is False
    assert parse_dock_spec("m.pt@refine=100,contact=1", cfg).contact_penalty is True
    with pytest.raises(ValueError, match="contact='yes'"):
        parse_dock_spec("m.pt@contact=yes", cfg)
