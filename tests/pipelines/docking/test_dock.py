from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from rdkit import Chem

import sciffusion.pipelines.docking.dock as dock_module
from sciffusion.domains.docking.ligand_inputs import double_bond_labels, stereo_labels
from sciffusion.domains.docking.pockets import Box
from sciffusion.domains.docking.pose_generators import PoseSet, poses_from_changes
from sciffusion.pipelines.docking.dock import DockConfig, run_dock
from sciffusion.pipelines.docking.dock_inputs import resolve_generator
from sciffusion.pipelines.docking.evaluate import EvaluateConfig, run_evaluate

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
POCKET = DATA / "6YQW_82I_pocket.pdb.gz"
CRYSTAL = DATA / "6YQW_82I_ligand.sdf"
CHIRAL = {"thr_like": "C[C@@H](O)[C@H](N)/C=C/C", "ibu_s": "CC(C)Cc1ccc(cc1)[C@H](C)C(=O)O"}


def _cfg(tmp_path: Path, ligand, name="out", **kw) -> DockConfig:
    settings = dict(protein=POCKET, ligand=str(ligand), out=tmp_path / name, model="random", samples=6, top_k=3,
                    progress=False)
    return DockConfig(**{**settings, **kw})


def _summary(out: Path) -> list[dict]:
    with open(out / "summary.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _records(path: Path) -> list:
    return [m for m in Chem.SDMolSupplier(str(path), removeHs=False)]


def test_dock_sdf_layout_properties_and_evaluate(tmp_path):
    cfg = _cfg(tmp_path, CRYSTAL, ref_ligand=CRYSTAL, protein=DATA / "6YQW_82I_protein.pdb.gz")
    summary = run_dock(cfg)
    out = cfg.out
    assert summary["docked"] == 1 and summary["failed"] == 0
    folder = out / "6YQW_82I"
    assert sorted(p.name for p in folder.iterdir()) == ["poses.sdf", "rank1.png", "rank1.sdf", "rank2.sdf",
                                                         "rank3.sdf"]
    poses = _records(folder / "poses.sdf")
    assert len(poses) == 6 and [int(p.GetProp("rank")) for p in poses] == list(range(1, 7))
    confidence = [float(p.GetProp("confidence")) for p in poses]
    assert confidence == sorted(confidence, reverse=True)
    assert all(p.HasProp("clashes") and p.HasProp("contact_fraction") for p in poses)
    rank1 = _records(folder / "rank1.sdf")[0]
    assert any(a.GetAtomicNum() == 1 for a in rank1.GetAtoms())
    heavy = [a.GetIdx() for a in rank1.GetAtoms() if a.GetAtomicNum() > 1]
    assert len(heavy) == 11
    pos = rank1.GetConformer().GetPositions()
    assert np.allclose(pos[heavy], poses[0].GetConformer().GetPositions()[heavy], atol=1e-3)
    box = Box(tuple(summary["box_center"]), tuple(summary["box_size"]))
    assert box.contains(pos[heavy].mean(0, keepdims=True)).all()  # in the protein's frame, inside the pocket
    h_pos = pos[[a.GetIdx() for a in rank1.GetAtoms() if a.GetAtomicNum() == 1]]
    assert np.linalg.norm(h_pos[:, None] - pos[heavy][None], axis=-1).min(axis=1).max() < 1.2  # H placed on atoms
    assert float(rank1.GetProp("confidence")) == pytest.approx(confidence[0], abs=1e-4)
    (row,) = _summary(out)
    assert row["status"] == "ok" and row["n_poses"] == "6" and float(row["top_confidence"]) == pytest.approx(confidence[0])
    assert row["smiles"] == Chem.MolToSmiles(Chem.MolFromMolFile(str(CRYSTAL)))
    config = json.loads((out / "config.json").read_text())
    assert config["generator"]["name"] == "random" and config["pocket"]["kind"] == "ref_ligand"
    assert config["config"]["pocket_margin"] == 4.0 and config["versions"]["rdkit"] != "not installed"
    assert (folder / "rank1.png").read_bytes()[:4] == b"\x89PNG"
    report = run_evaluate(EvaluateConfig(pred=out, ref=DATA, out=tmp_path / "report", posebusters=False))
    table = pd.read_csv(tmp_path / "report" / "per_complex.csv")
    assert table["id"].tolist() == ["6YQW_82I"] and np.isfinite(table["top1_rmsd"]).all()
    assert report["per_seed"]["0"]["n"] == 1


def test_smiles_csv_with_a_bad_record_keeps_stereo(tmp_path):
    library = tmp_path / "lib.csv"
    library.write_text("name,smiles\n" + "".join(f"{k},{v}\n" for k, v in CHIRAL.items()) + "broken,C1CC(\n"
                       "thr_like,CCO\n")
    cfg = _cfg(tmp_path, library, batch_size=2)
    summary = run_dock(cfg)
    assert (summary["docked"], summary["failed"]) == (3, 1)
    rows = _summary(cfg.out)
    assert [r["name"] for r in rows] == ["thr_like", "ibu_s", "broken", "thr_like_2"]
    assert [r["status"] for r in rows] == ["ok", "ok", "failed", "ok"]
    assert "could not parse SMILES" in rows[2]["reason"] and not (cfg.out / "broken").exists()
    for name, smiles in CHIRAL.items():
        source = Chem.MolFromSmiles(smiles)
        for k in (1, 2, 3):
            pose = _records(cfg.out / name / f"rank{k}.sdf")[0]
            Chem.AssignStereochemistryFrom3D(pose)
            assert stereo_labels(pose) == stereo_labels(source) != {}
        assert double_bond_labels(Chem.RemoveHs(pose)) == double_bond_labels(source)


def test_all_bad_ligands_leave_no_folder(tmp_path):
    with pytest.raises(ValueError, match="no ligand docked, all 1 failed .*could not parse SMILES"):
        run_dock(_cfg(tmp_path, "C1CC("))
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a temporary


def test_a_long_smiles_that_fails_is_named_by_its_start_once(tmp_path):
    smiles = "C" * 80
    with pytest.raises(ValueError) as caught:
        run_dock(_cfg(tmp_path, smiles, max_heavy_atoms=50))
    message = str(caught.value)
    assert message.startswith("C" * 57 + "...: no ligand docked, all 1 failed (first: ligand: 80 heavy atoms")
    assert "ligand: ligand" not in message and smiles not in message


def test_existing_out_is_refused_unless_overwrite(tmp_path):
    cfg = _cfg(tmp_path, "CCO")
    run_dock(cfg)
    with pytest.raises(FileExistsError, match="already exists"):
        run_dock(cfg)
    marker = cfg.out / "ligand" / "rank1.sdf"
    before = marker.read_text()
    with pytest.raises(ValueError, match="no ligand docked"):
        run_dock(_cfg(tmp_path, "C1CC(", overwrite=True))  # failed rerun: the old results stay
    assert marker.read_text() == before
    run_dock(_cfg(tmp_path, "CCCO", overwrite=True))
    assert _summary(cfg.out)[0]["smiles"] == "CCCO"


def test_pocket_options(tmp_path):
    crystal = Chem.MolFromMolFile(str(CRYSTAL)).GetConformer().GetPositions()
    centre = tuple(float(v) for v in crystal.mean(0))
    box = run_dock(_cfg(tmp_path, "CCO", "box", center=centre, size=(6.0, 7.0, 8.0), samples=8, top_k=8))
    assert box["box_size"] == [6.0, 7.0, 8.0]
    centroids = np.stack([_records(tmp_path / "box" / "ligand" / f"rank{k}.sdf")[0].GetConformer().GetPositions()[:3]
                          .mean(0) for k in range(1, 9)])
    assert Box(centre, (6.0, 7.0, 8.0)).contains(centroids).all()
    residues = run_dock(_cfg(tmp_path, "CCO", "res", residues=("A:45",), pocket_margin=1.0))
    assert residues["pocket"] == "residues" and min(residues["box_size"]) > 2.0
    blind = run_dock(_cfg(tmp_path, "CCO", "blind"))
    assert blind["pocket"] == "blind" and min(blind["box_size"]) > 20
    assert json.loads((tmp_path / "blind" / "config.json").read_text())["config"]["pocket_margin"] is None


@pytest.mark.parametrize("kw, message", [
    ({"center": (0.0, 0.0, 0.0)}, "--center/--size: give both"),
    ({"center": (0.0, 0.0, 0.0), "size": (1.0, 1.0, 1.0), "ref_ligand": CRYSTAL}, "at most one pocket"),
    ({"residues": ("A:45",), "ref_ligand": CRYSTAL}, "at most one pocket"),
    ({"center": (0.0, 0.0, 0.0), "size": (1.0, 0.0, 1.0)}, "size must be > 0"),
    ({"center": (0.0, 0.0, 0.0), "size": (1.0, 1.0, 1.0), "pocket_margin": 2.0}, "--pocket-margin: applies"),
    ({"ref_ligand": CRYSTAL, "pocket_margin": -1.0}, "--pocket-margin: must be"),
    ({"residues": ("A45",)}, "not CHAIN:NUMBER"),
    ({"top_k": 7}, "--top-k: must be <= --samples"),
    ({"samples": 0}, "--samples: must be >= 1"),
    ({"device": "tpu:x"}, "--device"),
    ({"seed": -1}, "--seed"),
])
def test_config_conflicts_are_one_line_errors(tmp_path, kw, message):
    with pytest.raises(ValueError, match=message) as info:
        _cfg(tmp_path, "CCO", **kw)
    assert "\n" not in str(info.value)


def test_run_errors_before_writing(tmp_path):
    with pytest.raises(FileNotFoundError, match="protein file not found"):
        _cfg(tmp_path, "CCO", protein=tmp_path / "none.pdb")
    with pytest.raises(FileNotFoundError, match="model checkpoint not found"):
        _cfg(tmp_path, "CCO", model=str(tmp_path / "none.pt"))
    checkpoint = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(2)}, checkpoint)
    with pytest.raises(ValueError, match="not a pose-diffusion model file"):
        run_dock(_cfg(tmp_path, "CCO", model=str(checkpoint)))
    with pytest.raises(ValueError, match="residue A:999 not found"):
        run_dock(_cfg(tmp_path, "CCO", residues=("A:999",)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_seeded_runs_repeat(tmp_path):
    texts = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        run_dock(_cfg(tmp_path, CRYSTAL, name, seed=seed))
        texts.append((tmp_path / name / "6YQW_82I" / "poses.sdf").read_text())
    assert texts[0] == texts[1] and texts[0] != texts[2]


@dataclass(frozen=True)
class _StartPose:
    """A plug-in generator: the start conformer itself (``stretch`` != 1 breaks the bond lengths)."""

    stretch: float = 1.0
    name: str = "start"

    def generate(self, receptor, ligands, pocket, samples, generator):
        out = []
        for ligand in ligands:
            m = ligand.tensors["rot_edges"].shape[0]
            zero = torch.zeros(samples, 3, dtype=torch.float64)
            pos = poses_from_changes(ligand, zero, zero, torch.zeros(samples, m, dtype=torch.float64))
            pos = pos.mean(1, keepdim=True) + self.stretch * (pos - pos.mean(1, keepdim=True))
            out.append(PoseSet(pos.float(), torch.arange(samples, dtype=torch.float32)))
        return out

    def describe(self):
        return {"name": self.name}


def test_a_plugged_in_generator_and_the_geometry_guard(tmp_path, monkeypatch):
    monkeypatch.setattr(dock_module, "resolve_generator", lambda cfg: _StartPose())
    run_dock(_cfg(tmp_path, CRYSTAL, "start", keep_conformer=True))
    run_evaluate(EvaluateConfig(pred=tmp_path / "start", ref=DATA, out=tmp_path / "report", posebusters=False))
    table = pd.read_csv(tmp_path / "report" / "per_complex.csv")
    assert table["top1_rmsd"].item() < 1e-3  # the crystal conformer, unmoved, written in the protein's frame
    rank1 = _records(tmp_path / "start" / "6YQW_82I" / "rank1.sdf")[0]
    assert float(rank1.GetProp("confidence")) == 5.0
    assert not rank1.HasProp("pb_valid") and _summary(tmp_path / "start")[0]["rank1_pb_valid"] == ""  # off by default
    monkeypatch.setattr(dock_module, "resolve_generator", lambda cfg: _StartPose(stretch=1.01))
    with pytest.raises(ValueError, match="not rigid moves"):
        run_dock(_cfg(tmp_path, CRYSTAL, "stretched", keep_conformer=True))


def test_posebusters_tags_every_pose_rank_file_and_the_summary(tmp_path, monkeypatch):
    """--posebusters: pb_valid (1/0) and pb_failed (space-separated check names, empty iff valid) on every
    pose of poses.sdf and the rank files, rank1_pb_valid in summary.csv; random poses in the pocket clash,
    the crystal pose (start conformer of the crystal ligand, unmoved) passes every 'dock' check."""
    cfg = _cfg(tmp_path, CRYSTAL, samples=4, top_k=2, conformers=1, posebusters=True)
    assert run_dock(cfg)["docked"] == 1
    folder = cfg.out / "6YQW_82I"
    tags = [(p.GetProp("pb_valid"), p.GetProp("pb_failed")) for p in _records(folder / "poses.sdf")]
    assert len(tags) == 4 and all(valid in ("0", "1") and (valid == "1") == (failed == "") for valid, failed in tags)
    assert any(valid == "0" for valid, _ in tags)
    assert all(";" not in failed and "  " not in failed for _, failed in tags)
    assert [(r.GetProp("pb_valid"), r.GetProp("pb_failed")) for k in (1, 2)
            for r in _records(folder / f"rank{k}.sdf")] == tags[:2]
    assert _records(folder / "rank1.sdf")[0].GetNumAtoms() == _records(folder / "poses.sdf")[0].GetNumAtoms()
    assert _summary(cfg.out)[0]["rank1_pb_valid"] == tags[0][0]
    monkeypatch.setattr(dock_module, "resolve_generator", lambda cfg: _StartPose())
    crystal = _cfg(tmp_path, CRYSTAL, "crystal", samples=1, top_k=1, conformers=1, keep_conformer=True,
                   posebusters=True)
    run_dock(crystal)
    pose = _records(crystal.out / "6YQW_82I" / "rank1.sdf")[0]
    assert (pose.GetProp("pb_valid"), pose.GetProp("pb_failed")) == ("1", "")
    assert _summary(crystal.out)[0]["rank1_pb_valid"] == "1"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_device_without_cuda_is_a_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="--device: cuda requested but CUDA is not available"):
        _cfg(tmp_path, "CCO", device="cuda")


def test_sdf_records_each_read_or_reported(tmp_path):
    """A garbage record and a too-large ligand fail on their own; the good record between them docks."""
    sdf = tmp_path / "three.sdf"
    sdf.write_text("garbage\nno counts line\n$$$$\n" + CRYSTAL.read_text() + (DATA / "6XG5_TOP_ligand.sdf").read_text())
    summary = run_dock(_cfg(tmp_path, sdf, max_heavy_atoms=15))
    assert (summary["docked"], summary["failed"]) == (1, 2)
    rows = _summary(tmp_path / "out")
    assert [(r["name"], r["status"]) for r in rows] == [("three_1", "failed"), ("6YQW_82I", "ok"),
                                                         ("6XG5_TOP", "failed")]
    assert rows[0]["reason"].startswith("record 1, lines 1-3:")
    assert rows[2]["reason"] == "6XG5_TOP: 21 heavy atoms, more than the limit of 15"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["6YQW_82I", "config.json", "summary.csv",
                                                                    "timing.csv"]


TINY_MODEL = dict(scalar_channels=4, vector_channels=2, sigma_frequencies=2, distance_embed_dim=4, max_neighbors=8)


def _tiny_model_file(path: Path, seed: int = 0) -> Path:
    """An untrained tiny score model saved as ``sciffusion docking train`` saves ``model.ckpt``."""
    from sciffusion.domains.docking.pose_dataset import PoseDataConfig
    from sciffusion.domains.docking.pose_diffusion import default_pose_process, model_file
    from sciffusion.domains.docking.score_model import DockingScoreModel, ScoreModelConfig

    torch.manual_seed(seed)
    model = DockingScoreModel(ScoreModelConfig(**TINY_MODEL))
    torch.save(model_file(model, default_pose_process(), PoseDataConfig(receptor_radius=15.0).to_dict()), path)
    return path


def test_learned_model_docks_end_to_end_and_keeps_bonds_and_stereo(tmp_path):
    ckpt = _tiny_model_file(tmp_path / "model.ckpt")
    library = tmp_path / "lib.smi"
    library.write_text("".join(f"{v} {k}\n" for k, v in CHIRAL.items()))
    cfg = _cfg(tmp_path, library, model=str(ckpt), steps=2, samples=3, top_k=2, batch_size=2, ref_ligand=CRYSTAL)
    summary = run_dock(cfg)
    assert (summary["docked"], summary["failed"]) == (2, 0)
    config = json.loads((cfg.out / "config.json").read_text())
    assert config["generator"]["kind"] == "pose diffusion" and config["generator"]["sampler"] == "heun"
    assert config["generator"]["steps"] == 2 and config["generator"]["checkpoint"] == str(ckpt)
    for name, smiles in CHIRAL.items():
        assert {p.name for p in (cfg.out / name).iterdir()} >= {"rank1.sdf", "rank2.sdf", "poses.sdf", "rank1.png"}
        assert not (cfg.out / name / "rank3.sdf").exists()
        poses = _records(cfg.out / name / "poses.sdf")
        assert len(poses) == 3
        source = Chem.MolFromSmiles(smiles)
        reference = Chem.RemoveHs(poses[0])
        bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in reference.GetBonds()]
        lengths: dict[int, list] = {}
        for pose in poses:
            heavy = Chem.RemoveHs(pose)
            xyz = heavy.GetConformer().GetPositions()
            start = int(pose.GetProp("start_conformer"))
            lengths.setdefault(start, []).append(np.array([np.linalg.norm(xyz[i] - xyz[j]) for i, j in bonds]))
            Chem.AssignStereochemistryFrom3D(pose)
            assert stereo_labels(pose) == stereo_labels(source) != {}
        assert sorted(lengths) == [0, 1, 2]  # 3 samples, round robin over the 4 default start conformers
        for same_start in lengths.values():  # a pose keeps its start conformer's bonds (SDF keeps 4 decimals)
            assert max(np.abs(a - same_start[0]).max() for a in same_start) < 2e-3
        centroids = np.stack([Chem.RemoveHs(p).GetConformer().GetPositions().mean(0) for p in poses])
        assert np.linalg.norm(centroids - centroids[0], axis=1).max() > 0.1  # samples differ


def test_learned_generator_samplers_seeds_and_geometry(tmp_path):
    from sciffusion.domains.docking.ligand_inputs import prepare_ligand, read_ligand_inputs
    from sciffusion.domains.docking.pose_generators import PreparedReceptor, pose_geometry_errors
    from sciffusion.domains.docking.protein import read_protein

    ckpt = _tiny_model_file(tmp_path / "model.ckpt")
    protein = read_protein(POCKET)
    receptor = PreparedReceptor.from_protein(protein)
    ligands = [prepare_ligand(item, seed=0) for item in read_ligand_inputs(CHIRAL["ibu_s"])]
    box = Box(tuple(float(v) for v in receptor.atoms["pos"].mean(0)), (12.0, 12.0, 12.0))
    for sampler in ("euler_maruyama", "euler", "heun"):
        gen = resolve_generator(_cfg(tmp_path, "CCO", model=str(ckpt), steps=3, sampler=sampler))
        runs = [gen.generate(receptor, ligands * 2, box, 4, torch.Generator().manual_seed(s))[0] for s in (1, 1, 2)]
        assert torch.equal(runs[0].pos, runs[1].pos) and not torch.allclose(runs[0].pos, runs[2].pos)
        errors = pose_geometry_errors(ligands[0], runs[0].pos)
        assert errors["bond_length"] < 1e-6 and errors["chirality_flips"] == 0
        assert set(runs[0].properties) == {"clashes", "contact_fraction"}
    with pytest.raises(ValueError, match="^--sampler: must be one of heun, euler, euler_maruyama, got 'ddim'$"):
        resolve_generator(_cfg(tmp_path, "CCO", model=str(ckpt), sampler="ddim"))


def test_blind_docking_spreads_samples_over_found_pockets(tmp_path, monkeypatch):
    from sciffusion.domains.docking.pockets import Box
    from sciffusion.pipelines.docking import dock as dock_module
    from sciffusion.pipelines.docking.dock import split_samples

    assert split_samples(10, 3) == [4, 3, 3] and split_samples(2, 3) == [1, 1] and split_samples(3, 1) == [3]
    protein = DATA / "6YQW_82I_protein.pdb.gz"
    run_dock(_cfg(tmp_path, CRYSTAL, "blind", protein=protein, samples=7, blind_pockets=2))
    config = json.loads((tmp_path / "blind" / "config.json").read_text())
    boxes = config["search_boxes"]
    assert config["pocket"]["kind"] == "blind" and 1 <= len(boxes) <= 2
    crystal = Chem.MolFromMolFile(str(CRYSTAL)).GetConformer().GetPositions().mean(0)
    assert min(np.linalg.norm(np.asarray(b["center"]) - crystal) for b in boxes) < 6.0  # the real pocket is found
    # two search boxes: the samples are split 4 + 3 and ranked together
    two = [Box(tuple(crystal), (12.0, 12.0, 12.0)), Box(tuple(crystal + 8.0), (12.0, 12.0, 12.0))]
    monkeypatch.setattr(dock_module, "search_boxes", lambda cfg, protein, box: two)
    run_dock(_cfg(tmp_path, CRYSTAL, "two", protein=protein, samples=7))
    poses = _records(tmp_path / "two" / "6YQW_82I" / "poses.sdf")
    assert sorted(int(float(p.GetProp("search_box"))) for p in poses) == [0, 0, 0, 0, 1, 1, 1]
    confidence = [float(p.GetProp("confidence")) for p in poses]
    assert confidence == sorted(confidence, reverse=True)
    for pose in poses:  # random poses lie in their own box
        centre = Chem.RemoveHs(pose).GetConformer().GetPositions().mean(0)
        assert two[int(float(pose.GetProp("search_box")))].contains(centre[None])[0]
    monkeypatch.undo()
    # with a pocket given there is one search box, the pocket's
    run_dock(_cfg(tmp_path, CRYSTAL, "pocket", protein=protein, samples=3, ref_ligand=CRYSTAL))
    given = json.loads((tmp_path / "pocket" / "config.json").read_text())
    assert given["search_boxes"] == [{"center": given["pocket"]["center"], "size": given["pocket"]["size"]}]
    assert not _records(tmp_path / "pocket" / "6YQW_82I" / "poses.sdf")[0].HasProp("search_box")


def test_learned_generator_is_built_once_per_model_file(tmp_path):
    from sciffusion.pipelines.docking.dock_inputs import resolve_generator

    ckpt = _tiny_model_file(tmp_path / "model.ckpt")
    cfg = _cfg(tmp_path, "CCO", model=str(ckpt), steps=2)
    first = resolve_generator(cfg)
    assert resolve_generator(cfg) is first
    assert resolve_generator(_cfg(tmp_path, "CCO", model=str(ckpt), steps=3)) is not first  # other settings
    _tiny_model_file(ckpt, seed=1)  # the file changed: rebuilt
    os.utime(ckpt, ns=(1, 1))
    assert resolve_generator(cfg) is not first


@pytest.mark.slow
def test_two_processes_share_a_screen_through_lightning(tmp_path):
    """--devices 2 on CPU: Lightning's predict loop runs two processes (DDP), each docks its share of the
    ligands and writes it complete to OUT.shard<r>of2; together they hold every ligand once."""
    import subprocess
    import sys

    library = tmp_path / "lib.smi"
    library.write_text("CCO a\nCCCN b\nc1ccccc1O c\nCC(=O)O d\nCCCCO e\n")
    out = tmp_path / "screen"
    command = [sys.executable, "-m", "sciffusion.cli.main", "dock", "--protein", str(POCKET), "--ligand", str(library),
               "--ref-ligand", str(CRYSTAL), "--model", "random", "--samples", "2", "--top-k", "1", "--batch-size", "1",
               "--devices", "2", "--out", str(out), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    shards = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("screen"))
    assert shards == ["screen.shard0of2", "screen.shard1of2"]
    names = []
    for shard in shards:
        rows = _summary(tmp_path / shard)
        assert rows and all(r["status"] == "ok" for r in rows)
        assert json.loads((tmp_path / shard / "config.json").read_text())["shard"]["world_size"] == 2
        names += [r["name"] for r in rows]
        assert all((tmp_path / shard / r["name"] / "rank1.sdf").is_file() for r in rows)
    assert sorted(names) == ["a", "b", "c", "d", "e"]


def test_rank_by_vina_with_refinement_and_the_physics_control(tmp_path):
    """--refine-steps/--rank-by vina: poses.sdf ordered by vina_score, properties written, bonds kept;
    --model physics runs end to end, ranked by the Vina-like score; config.json records the settings."""
    cfg = _cfg(tmp_path, CRYSTAL, ref_ligand=CRYSTAL, refine_steps=20, rank_by="vina", samples=4, conformers=2)
    assert run_dock(cfg)["docked"] == 1
    poses = _records(cfg.out / "6YQW_82I" / "poses.sdf")
    scores = [float(p.GetProp("vina_score")) for p in poses]
    assert scores == sorted(scores) and all(p.HasProp(k) for p in poses for k in
                                             ("vina_inter", "energy_before_refine", "model_confidence"))
    assert all(float(p.GetProp("vina_inter")) + float(p.GetProp("vina_intra")) <=
               float(p.GetProp("energy_before_refine")) + 1e-3 for p in poses)
    physics = _cfg(tmp_path, CRYSTAL, name="physics", ref_ligand=CRYSTAL, model="physics", refine_steps=10,
                   samples=3, top_k=1)
    assert run_dock(physics)["docked"] == 1
    record = json.loads((physics.out / "config.json").read_text())["generator"]
    assert record["name"] == "physics" and record["physics"]["rank_by"] == "vina"
    scores = [float(p.GetProp("vina_score")) for p in _records(physics.out / "6YQW_82I" / "poses.sdf")]
    assert scores == sorted(scores)
    with pytest.raises(ValueError, match="--guidance-scale: guides a learned model's sampler, not --model physics"):
        _cfg(tmp_path, CRYSTAL, model="physics", guidance_scale=1.0)
    with pytest.raises(ValueError, match="--rank-by: must be one of confidence, vina, combined"):
        _cfg(tmp_path, CRYSTAL, rank_by="energy")


def test_bundled_model_and_confidence_are_the_default():
    """No --model: the bundled rigid pose-diffusion model, ranked by the bundled confidence model."""
    from sciffusion.domains.docking.pose_diffusion import has_torsions
    from sciffusion.pipelines.docking.dock_inputs import bundled_confidence, bundled_model, resolve_generator

    assert bundled_model() is not None and bundled_confidence() is not None
    generator = resolve_generator(DockConfig(protein=POCKET, ligand="CCO", out=Path("unused"), progress=False))
    base = getattr(generator, "base", generator)
    assert base.source == str(bundled_model()) and not has_torsions(base.process)
    described = generator.describe()
    assert str(bundled_confidence()) in json.dumps(described)


def test_more_processes_than_ligand_batches_is_refused_before_any_output(tmp_path):
    """Two processes for one batch of ligands: a one-line error before Lightning starts a process,
    no output or staging folder left (Lightning's sampler would assert on the empty rank)."""
    cfg = _cfg(tmp_path, "CCO", ref_ligand=CRYSTAL, devices=2, batch_size=4)
    with pytest.raises(ValueError, match="^--devices/--num-nodes: 2 processes but only 1 batch"):
        run_dock(cfg)
    assert list(tmp_path.iterdir()) == []


def test_out_over_an_input_is_refused_even_with_overwrite(tmp_path):
    protein = tmp_path / "inputs" / "protein.pdb.gz"
    protein.parent.mkdir()
    protein.write_bytes(POCKET.read_bytes())
    for out, message in ((protein, "is the --protein input"), (protein.parent, "holds the --protein input"),
                         (Path("."), "names no new file or folder")):
        with pytest.raises(ValueError, match=message):
            _cfg(tmp_path, "CCO", protein=protein, out=out, overwrite=True)
    ligand = tmp_path / "ligand.sdf"
    ligand.write_bytes(CRYSTAL.read_bytes())
    with pytest.raises(ValueError, match="is the --ligand input"):
        _cfg(tmp_path, ligand, out=ligand, overwrite=True)
    assert protein.read_bytes() == POCKET.read_bytes() and ligand.read_bytes() == CRYSTAL.read_bytes()


def test_ref_ligand_without_3d_coordinates_is_named(tmp_path):
    from rdkit.Chem import rdDepictor

    flat = Chem.MolFromMolFile(str(CRYSTAL))
    rdDepictor.Compute2DCoords(flat)  # a 2D box far from the pocket: "holds no protein atom" before
    path = tmp_path / "flat.sdf"
    Chem.MolToMolFile(flat, str(path))
    with pytest.raises(ValueError, match=r"--ref-ligand: .*flat.sdf: no 3D coordinates"):
        run_dock(_cfg(tmp_path, "CCO", ref_ligand=path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.sdf"]


def test_a_mixture_is_listed_as_failed_beside_the_docked_ligands(tmp_path):
    library = tmp_path / "lib.smi"
    library.write_text("CCO ethanol\nc1ccccc1O.c1ccccc1C mixture\n")
    result = run_dock(_cfg(tmp_path, library))
    assert (result["docked"], result["failed"]) == (1, 1)
    rows = {r["name"]: r for r in _summary(tmp_path / "out")}
    assert rows["mixture"]["status"] == "failed" and "2 disconnected fragments" in rows["mixture"]["reason"]
    assert not (tmp_path / "out" / "mixture").exists()