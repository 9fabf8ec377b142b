from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import sciffusion.pipelines.docking.confidence_train as confidence_train
from sciffusion.cli.main import app
from sciffusion.domains.docking.confidence import FEATURE_NAMES, ConfidenceModel
from sciffusion.domains.docking.ligand_io import read_ligand

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
COMPLEXES = {"6YQW_82I": "train", "6XG5_TOP": "val"}
TINY_MODEL = dict(scalar_channels=4, vector_channels=2, sigma_frequencies=2, distance_embed_dim=4, max_neighbors=8)


def _tiny_model_file(path: Path) -> Path:
    """An untrained tiny score model saved as ``sciffusion docking train`` saves ``model.ckpt``."""
    from sciffusion.domains.docking.pose_dataset import PoseDataConfig
    from sciffusion.domains.docking.pose_diffusion import default_pose_process, model_file
    from sciffusion.domains.docking.score_model import DockingScoreModel, ScoreModelConfig

    torch.manual_seed(0)
    model = DockingScoreModel(ScoreModelConfig(**TINY_MODEL))
    torch.save(model_file(model, default_pose_process(), PoseDataConfig(receptor_radius=15.0).to_dict()), path)
    return path


def _index(tmp_path: Path, splits: dict[str, str] = COMPLEXES) -> Path:
    path = tmp_path / "index.csv"
    path.write_text("id,protein,ligand,split,pocket_ligand\n" + "".join(
        f"{n},{DATA}/{n}_pocket.pdb.gz,{DATA}/{n}_ligand.sdf,{s},{DATA}/{n}_ligand.sdf\n" for n, s in splits.items()))
    return path


class _NearCrystal:
    """The real generator, with the first two poses of each ligand moved onto the crystal pose (+0.3 Å
    noise), so that an untrained model still yields both labels."""

    def __init__(self, inner):
        self.inner = inner
        crystals = [read_ligand(DATA / f"{n}_ligand.sdf").mol for n in COMPLEXES]
        self.crystal = {}
        for mol in crystals:
            heavy = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
            xyz = torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float64)[heavy]
            self.crystal[len(heavy)] = xyz

    def generate(self, receptor, ligands, pocket, samples, generator):
        out = []
        for poses in self.inner.generate(receptor, ligands, pocket, samples, generator):
            pos = poses.pos.clone()
            near = self.crystal[pos.shape[1]]
            pos[:2] = near + 0.3 * torch.randn(2, *near.shape, dtype=torch.float64, generator=generator)
            out.append(replace(poses, pos=pos))
        return out

    def describe(self):
        return self.inner.describe()


@pytest.fixture
def near_crystal(monkeypatch):
    real = confidence_train.resolve_generator
    monkeypatch.setattr(confidence_train, "resolve_generator", lambda cfg: _NearCrystal(real(cfg)))


def test_train_confidence_command_end_to_end(tmp_path, near_crystal):
    model, out = _tiny_model_file(tmp_path / "model.ckpt"), tmp_path / "conf"
    args = ["docking", "train-confidence", "--model", str(model), "--index", str(_index(tmp_path)), "--out", str(out),
            "--samples", "4", "--steps", "2", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "val (1 complexes): AUROC learned" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["confidence.ckpt", "failures.csv", "report.json", "samples.csv"]
    with open(out / "samples.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["id"], r["split"], r["sample"]) for r in rows] == [
        (n, s, str(k)) for n, s in COMPLEXES.items() for k in range(4)]
    assert set(FEATURE_NAMES) <= set(rows[0])
    assert [int(r["label"]) for r in rows] == [1, 1, 0, 0] * 2  # the two near-crystal poses, < 2 Å
    assert all(float(r["rmsd"]) < 2.0 for r in rows if r["label"] == "1")
    report = json.loads((out / "report.json").read_text())
    assert report["failed"] == [] and report["val"]["oracle"]["top1_success"] == 1.0
    assert set(report["val"]["feature_auroc"]) == set(FEATURE_NAMES)
    assert report["train"]["learned"]["auroc"] == 1.0  # two separable clusters in-sample
    model_file = torch.load(out / "confidence.ckpt", weights_only=True)
    assert ConfidenceModel.from_file(model_file, "confidence.ckpt").extra["samples"] == 4
    again = CliRunner().invoke(app, args)
    assert again.exit_code != 0 and "already exists" in again.output


def test_failed_complex_is_recorded_and_test_rows_refused(tmp_path, near_crystal):
    from sciffusion.pipelines.docking.confidence_train import ConfidenceTrainConfig, run_confidence_train

    model = _tiny_model_file(tmp_path / "model.ckpt")
    index = _index(tmp_path)
    header, *rows = index.read_text().splitlines(keepends=True)
    broken = f"BROKEN,{tmp_path}/none.pdb,{DATA}/6YQW_82I_ligand.sdf,train,\n"  # first row: fails on its own
    index.write_text(header + broken + "".join(rows))
    report = run_confidence_train(ConfidenceTrainConfig(model=model, index=index, out=tmp_path / "c", samples=4,
                                                        steps=2, progress=False))
    assert [f["id"] for f in report["failed"]] == ["BROKEN"] and "none.pdb" in report["failed"][0]["reason"]
    assert report["train"]["learned"]["complexes"] == 1 and report["val"]["learned"]["complexes"] == 1
    assert (tmp_path / "c" / "failures.csv").read_text().startswith("id,split,reason\nBROKEN,train,")
    with pytest.raises(ValueError, match="test_public"):
        run_confidence_train(ConfidenceTrainConfig(
            model=model, index=_index(tmp_path, {**COMPLEXES, "6XG5_TOP": "test_public"}), out=tmp_path / "d",
            samples=4, steps=2, progress=False))


def test_one_class_keeps_the_samples_and_is_a_one_line_error(tmp_path):
    from sciffusion.pipelines.docking.confidence_train import ConfidenceTrainConfig, run_confidence_train

    cfg = ConfidenceTrainConfig(model=_tiny_model_file(tmp_path / "model.ckpt"), index=_index(tmp_path),
                                out=tmp_path / "c", samples=2, steps=1, progress=False, limit=1)
    with pytest.raises(ValueError, match=r"^.*index.csv: 0 of 2 train poses within 2.0 A .*both classes"):
        run_confidence_train(cfg)
    assert sorted(p.name for p in cfg.out.iterdir()) == ["failures.csv", "report.json", "samples.csv"]
    report = json.loads((cfg.out / "report.json").read_text())
    assert "both classes" in report["not_fitted"] and "learned" not in report["val"]
    assert report["val"]["oracle"]["complexes"] == 1
    # a label loose enough for every pose is again one class, now named with its threshold
    loose = ConfidenceTrainConfig(model=cfg.model, index=cfg.index, out=tmp_path / "loose", samples=2, steps=1,
                                  progress=False, limit=1, label_rmsd=1000.0)
    with pytest.raises(ValueError, match=r"2 of 2 train poses within 1000.0 A"):
        run_confidence_train(loose)
    assert json.loads((loose.out / "report.json").read_text())["label_rmsd"] == 1000.0
    with pytest.raises(ValueError, match="--label-rmsd: must be a finite number > 0"):
        ConfidenceTrainConfig(model=cfg.model, index=cfg.index, out=tmp_path / "x", label_rmsd=0.0)


def _toy_confidence_file(path: Path) -> Path:
    from sciffusion.domains.docking.confidence import ConfidenceFitConfig

    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, len(FEATURE_NAMES), dtype=torch.float64, generator=g)
    model = ConfidenceModel.fit(x, (x[:, 0] > 0).long(), ConfidenceFitConfig(hidden=0))
    torch.save(model.to_file(), path)
    return path


def test_dock_ranks_by_the_learned_confidence(tmp_path):
    from rdkit import Chem

    from sciffusion.pipelines.docking.dock import DockConfig, run_dock

    conf = _toy_confidence_file(tmp_path / "confidence.ckpt")
    cfg = DockConfig(protein=DATA / "6YQW_82I_pocket.pdb.gz", ligand="CCOc1ccccc1", out=tmp_path / "out",
                     ref_ligand=DATA / "6YQW_82I_ligand.sdf", model=str(_tiny_model_file(tmp_path / "model.ckpt")),
                     confidence=conf, samples=4, top_k=2, steps=2, conformers=1, progress=False)
    assert run_dock(cfg)["docked"] == 1
    generator = json.loads((cfg.out / "config.json").read_text())["generator"]
    assert generator["confidence"].startswith(f"learned confidence model {conf}")
    poses = [m for m in Chem.SDMolSupplier(str(cfg.out / "ligand" / "poses.sdf"))]
    assert len(poses) == 4 and all(p.HasProp("consensus_rmsd") and p.HasProp("buriedness") for p in poses)
    confidences = [float(p.GetProp("confidence")) for p in poses]
    assert confidences == sorted(confidences, reverse=True)
    # the random control is ranked by the same confidence model (the control)
    control = DockConfig(protein=cfg.protein, ligand="CCOc1ccccc1", out=tmp_path / "random", model="random",
                         ref_ligand=cfg.ref_ligand, confidence=conf, samples=4, top_k=2, conformers=1, progress=False)
    run_dock(control)
    assert json.loads((control.out / "config.json").read_text())["generator"]["confidence"] == \
        f"learned confidence model {conf}"
    ranked = [m for m in Chem.SDMolSupplier(str(control.out / "ligand" / "poses.sdf"))]
    assert all(p.HasProp("consensus_rmsd") for p in ranked)
    assert [float(p.GetProp("confidence")) for p in ranked] == sorted((float(p.GetProp("confidence")) for p in ranked),
                                                                      reverse=True)
    with pytest.raises(FileNotFoundError, match="none.ckpt: confidence model file not found"):
        DockConfig(protein=cfg.protein, ligand="CCO", out=tmp_path / "o2", model=cfg.model,
                   confidence=tmp_path / "none.ckpt")


def test_bench_dock_spec_with_a_confidence_model():
    from sciffusion.pipelines.bench.docking import split_dock_model

    assert split_dock_model("run/model.ckpt") == ("run/model.ckpt", None)
    assert split_dock_model("run/model.ckpt+conf/confidence.ckpt") == ("run/model.ckpt", Path("conf/confidence.ckpt"))
    assert split_dock_model("random") == ("random", None)
    assert split_dock_model("random+c.ckpt") == ("random", Path("c.ckpt"))  # the control, ranked the same way
    for bad in ("+c.ckpt", "m.ckpt+"):
        with pytest.raises(ValueError, match="^--dock: expected MODEL or MODEL\\+CONF.ckpt"):
            split_dock_model(bad)
