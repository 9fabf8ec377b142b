"""`sciffusion dock`: place candidate molecules in a protein (DiffDock-like).

Parses the options, builds one :class:`~sciffusion.pipelines.docking.dock_inputs.DockConfig` and calls
:func:`~sciffusion.pipelines.docking.dock.run_dock`; the pipeline is imported inside the command.
Registered in ``cli/main.py`` as ``app.command("dock")(dock.dock)``; ``app`` here runs it alone.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

import typer

from sciffusion.cli.errors import user_errors_exit
from sciffusion.cli.options import seed_option


@user_errors_exit
def dock(
    protein: Path = typer.Option(..., "--protein", help="receptor: PDB or mmCIF (.pdb, .ent, .cif, .mmcif; .gz ok)"),
    ligand: str = typer.Option(..., "--ligand", help="ligands: .sdf/.sdf.gz/.mol2 (many records), .mol, .csv "
                                                     "(smiles column, optional name/id), .smi (SMILES [name] per "
                                                     "line), or one SMILES string"),
    out: Path = typer.Option(..., "--out", help="output folder (refused if it exists, unless --overwrite)"),
    ref_ligand: Optional[Path] = typer.Option(None, "--ref-ligand", help="pocket: box around this ligand's heavy "
                                                                         "atoms + --pocket-margin"),
    center: Optional[Tuple[float, float, float]] = typer.Option(None, "--center", metavar="X Y Z",
                                                                help="pocket: box centre, Å (with --size)"),
    size: Optional[Tuple[float, float, float]] = typer.Option(None, "--size", metavar="SX SY SZ",
                                                              help="pocket: box edge lengths, Å (with --center)"),
    residues: Optional[str] = typer.Option(None, "--residues", help="pocket: box around these residues + "
                                                                    "--pocket-margin, e.g. A:45,A:87"),
    pocket_margin: Optional[float] = typer.Option(None, "--pocket-margin", help="margin around --ref-ligand or "
                                                                                "--residues, Å (default 4)"),
    samples: int = typer.Option(10, "--samples", help="poses generated per ligand"),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="best poses written as rank1.sdf ... rank<k>.sdf "
                                                               "(<= --samples; default: 5, or --samples if fewer)"),
    steps: int = typer.Option(20, "--steps", help="reverse-diffusion steps (learned model; the random control "
                                                  "has none)"),
    sampler: Optional[str] = typer.Option(None, "--sampler", help="sampler of the learned model (default: the "
                                                                  "model's own)"),
    seed: int = seed_option(0, "Seed for conformers and poses."),
    device: str = typer.Option("cpu", "--device", help="torch device: cpu, cuda, cuda:1, ..."),
    model: Optional[str] = typer.Option(None, "--model", help="score-model checkpoint, 'random' for the "
                                                              "random-pose control or 'physics' for the physics-only "
                                                              "control (random starts + Monte-Carlo Vina-like "
                                                              "refinement) (default: the bundled model)"),
    refine_steps: int = typer.Option(100, "--refine-steps", help="refine every pose under the Vina-like score "
                                                                 "(Adam steps; 0 = off; --model physics: per "
                                                                 "round, 0 = 100). On the 30 val complexes 100 "
                                                                 "steps + --rank-by vina lifted top-1 < 2 Å from "
                                                                 "2 to 6 (docs/docking.md)"),
    rank_by: Optional[str] = typer.Option(None, "--rank-by", help="confidence | vina (lowest normalised Vina-like "
                                                                  "score first) | combined (mean of both rank "
                                                                  "positions) | learned (a ranking fitted on the "
                                                                  "training split, --ranker); default: vina when "
                                                                  "poses are refined or --model physics, else "
                                                                  "confidence"),
    contact_penalty: bool = typer.Option(False, "--contact-penalty/--no-contact-penalty", help="refinement keeps "
                                         "ligand-receptor pairs at 0.8 x their radii sum and poses failing "
                                         "PoseBusters' minimum distance to the protein rank last (off: on the "
                                         "val complexes it cost top-1 accuracy for little PB validity)"),
    ranker: Optional[Path] = typer.Option(None, "--ranker", help="pose ranker JSON for --rank-by learned ('sciffusion "
                                                                 "docking train-ranker'; default: the bundled one)"),
    guidance_scale: float = typer.Option(0.0, "--guidance-scale", help="tilt a learned model's sampler by "
                                                                       "exp(-scale * Vina-like energy), mol/kcal "
                                                                       "(0 = off)"),
    trust_checkpoint: bool = typer.Option(False, "--trust-checkpoint", help="load --model with full pickle "
                                                                            "(only for files you trust)"),
    confidence: Optional[Path] = typer.Option(None, "--confidence", help="rank a learned --model's poses by this "
                                                                         "confidence model (DIR/confidence.ckpt of "
                                                                         "'sciffusion docking train-confidence'; "
                                                                         "default: clash/contact score)"),
    batch_size: int = typer.Option(8, "--batch-size", help="ligands per generator call"),
    keep_conformer: bool = typer.Option(False, "--keep-conformer", help="start from a 3D input's own conformer "
                                                                        "instead of a seeded ETKDG one"),
    conformers: int = typer.Option(4, "--conformers", help="seeded ETKDG start conformers per ligand; samples go "
                                                           "round robin over them"),
    blind_pockets: int = typer.Option(3, "--blind-pockets", help="blind docking (no pocket option): spread the "
                                                                 "samples over this many detected pockets"),
    devices: int = typer.Option(1, "--devices", help="devices of --device's kind for Lightning's predict loop; "
                                                     "with several processes each writes OUT.shard<r>of<W>"),
    num_nodes: int = typer.Option(1, "--num-nodes", help="machines (Lightning num_nodes) sharing the ligands"),
    max_heavy_atoms: int = typer.Option(150, "--max-heavy-atoms", help="larger ligands are reported as failed"),
    posebusters: bool = typer.Option(False, "--posebusters/--no-posebusters",
                                     help="PoseBusters 'dock' checks on every pose: SD tags pb_valid, pb_failed and "
                                          "summary.csv rank1_pb_valid (adds ~0.1-0.2 s per pose)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing --out"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar"),
) -> None:
    """Dock ligands into a protein: OUT/<name>/rank<k>.sdf, poses.sdf, rank1.png, and OUT/summary.csv,
    config.json. Bad ligands are listed as failed in summary.csv; exits non-zero only when none docked."""
    from sciffusion.pipelines.docking.dock import run_dock
    from sciffusion.pipelines.docking.dock_inputs import DockConfig, parse_residues

    summary = run_dock(DockConfig(
        protein=protein, ligand=ligand, out=out, ref_ligand=ref_ligand, center=center, size=size,
        residues=parse_residues(residues), pocket_margin=pocket_margin, samples=samples,
        top_k=min(5, samples) if top_k is None else top_k, steps=steps,
        sampler=sampler, seed=seed, device=device, model=model, trust_checkpoint=trust_checkpoint,
        confidence=confidence, batch_size=batch_size, overwrite=overwrite, keep_conformer=keep_conformer,
        max_heavy_atoms=max_heavy_atoms, refine_steps=refine_steps, rank_by=rank_by, ranker=ranker,
        contact_penalty=contact_penalty,
        guidance_scale=guidance_scale,
        conformers=conformers, blind_pockets=blind_pockets, devices=devices, num_nodes=num_nodes, progress=progress,
        posebusters=posebusters))
    failed = f", {summary['failed']} failed" if summary["failed"] else ""
    typer.echo(f"docked {summary['docked']} of {summary['ligands']} ligand(s){failed} in {summary['seconds']:.1f} s; "
               f"see {Path(summary['out']) / 'summary.csv'}")


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command(help=dock.__doc__)(dock)
