"""The core demo: train a small U-Net denoiser on the bundled MNIST digits for a fixed number of
optimizer steps (a few idle-CPU minutes), sample with a registered sampler, inpaint, and score bits/dim on
held-out digits.

    sciffusion demo mnist --out DIR [--train-steps 1300 --minutes 20 --sampler dpmpp_2m --steps 20 --seed 0]

Data: the bundled 10,000 MNIST test digits (``common/data/mnist``): the first 9,000 train, the last
1,000 are held out. Pixels k ∈ {0..255} → x = k/127.5 − 1 ∈ [−1, 1] for training.

Model: :class:`~sciffusion.common.networks.UNet2D` inside a
:class:`~sciffusion.common.training.DiffusionModule` with EDM preconditioning and the EDM loss
(σ_d = 0.5, ln σ ~ N(−1.2, 1.2²)); training stops after ``train_steps`` optimizer steps, so the result
does not depend on how busy the machine is, unless the wall-clock cap ``minutes`` comes first
(:class:`~sciffusion.common.training.TimeBudget`); ``metrics.json`` says which (``stopped_by``).

Inpainting: the last ``inpaint_digits`` held-out digits (disjoint from the first ``bpd_digits`` unless
both are large), top 14 rows known; see :func:`inpaint_top_half`.

Likelihood: bits/dim on the first ``bpd_digits`` held-out digits (uniformly dequantised, Hutchinson
trace with ``bpd_probes`` Rademacher probes, PF-ODE from σ_min = 0.002 to σ_max = 80, EMA weights);
see :mod:`sciffusion.common.likelihood` for the D·log 127.5 offset and the σ_min convention.

Outputs in DIR (written into a temporary folder and renamed at the end, so DIR is complete or absent):
``samples.png`` (grid), ``loss.png`` (training loss), ``inpaint.png`` (bottom halves of held-out digits
completed from their top halves, by replacement and by the moment-matching posterior denoiser),
``model.ckpt`` (Lightning checkpoint, resolved train config in its hparams; reload it weights-only with
:meth:`~sciffusion.common.training.DiffusionModule.from_checkpoint`), ``config.json`` (the
resolved demo config) and ``metrics.json``. With ``progress``, every stage (training, sampling,
inpainting, bits/dim) shows a rich progress bar.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from sciffusion.common.data import MNIST_DIR as DATA_DIR
N_TRAIN = 9000


def _default_net():
    from sciffusion.common.networks.unet2d import UNet2DConfig

    return UNet2DConfig(in_channels=1, base_channels=16, channel_mults=(1, 2, 4), num_res_blocks=1,
                        attention=(False, False, True), groups=8, embed_dim=64)


def _default_train():
    from sciffusion.common.training.config import TrainConfig

    return TrainConfig(loss="edm", sigma_data=0.5, lr=2e-3, lr_warmup_steps=50, ema_decay=0.995, grad_clip=1.0)


@dataclass(frozen=True)
class MnistDemoConfig:
    """Everything the demo does. ``train_steps``: optimizer steps to train (≈ 4 min on an idle 2-core
    CPU); ``minutes``: wall-clock cap on training (stops earlier if reached first);
    ``steps``: sampler steps (Karras grid σ ∈ [0.002, 80], ρ = 7);
    ``samples``: images in the grid; ``bpd_digits``/``bpd_probes``/``bpd_rtol``: the likelihood
    evaluation (0 digits skips it)."""

    out: Path
    train_steps: int = 1300
    minutes: float = 20.0
    sampler: str = "dpmpp_2m"
    steps: int = 20
    seed: int = 0
    samples: int = 64
    overwrite: bool = False
    batch_size: int = 32
    bpd_digits: int = 200
    bpd_probes: int = 1
    bpd_rtol: float = 1e-3
    inpaint_digits: int = 16
    inpaint_cg_iters: int = 2
    progress: bool = True
    data_dir: Path = DATA_DIR
    net: Any = field(default_factory=_default_net)
    train: Any = field(default_factory=_default_train)

    def __post_init__(self) -> None:
        from sciffusion.common.networks.unet2d import UNet2DConfig
        from sciffusion.common.samplers.registry import get_sampler
        from sciffusion.common.training.config import TrainConfig

        if self.train_steps < 1:
            raise ValueError(f"--train-steps: must be >= 1, got {self.train_steps}")
        if not self.minutes > 0:
            raise ValueError(f"--minutes: must be > 0, got {self.minutes}")
        get_sampler(self.sampler)  # raises "sampler: unknown ..."
        if self.steps < 1:
            raise ValueError(f"--steps: must be >= 1, got {self.steps}")
        if self.samples < 1:
            raise ValueError(f"--samples: must be >= 1, got {self.samples}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")
        if not 0 <= self.bpd_digits <= 10000 - N_TRAIN:
            raise ValueError(f"bpd_digits: must be in [0, {10000 - N_TRAIN}], got {self.bpd_digits}")
        if not 0 <= self.inpaint_digits <= 10000 - N_TRAIN:
            raise ValueError(f"--inpaint-digits: must be in [0, {10000 - N_TRAIN}], got {self.inpaint_digits}")
        if self.inpaint_cg_iters < 1:
            raise ValueError(f"inpaint_cg_iters: must be >= 1, got {self.inpaint_cg_iters}")
        if self.bpd_probes < 1 or self.bpd_rtol <= 0:
            raise ValueError(f"bpd_probes/bpd_rtol: must be >= 1 / > 0, got ({self.bpd_probes}, {self.bpd_rtol})")
        if not isinstance(self.net, UNet2DConfig) or not isinstance(self.train, TrainConfig):
            raise ValueError("net/train: must be a UNet2DConfig and a TrainConfig")

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["out"], d["data_dir"] = str(self.out), str(self.data_dir)
        d["net"] = dataclasses.asdict(self.net)
        d["train"] = self.train.to_dict()
        return d


def load_mnist(data_dir: Path = DATA_DIR):
    """``(train [9000, 1, 28, 28], held_out [1000, 1, 28, 28])`` uint8 tensors from the IDX file."""
    import torch

    from sciffusion.common.io.idx import read_idx

    images = read_idx(Path(data_dir) / "t10k-images-idx3-ubyte.gz")
    if images.shape != (10000, 28, 28):
        raise ValueError(f"{data_dir}: expected 10000 × 28 × 28 MNIST images, got {images.shape}")
    k = torch.from_numpy(images.copy())[:, None]
    return k[:N_TRAIN], k[N_TRAIN:]


def _datamodule(train_k, batch_size: int, seed: int):
    import pytorch_lightning as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    class MnistData(pl.LightningDataModule):
        """Training digits scaled to [−1, 1], shuffled by a seeded generator, full batches only."""

        def train_dataloader(self):
            x = train_k.float() / 127.5 - 1.0
            return DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=True, drop_last=True,
                              generator=torch.Generator().manual_seed(seed))

    return MnistData()


def _save_grid(images, path: Path, title: str, cols: Optional[int] = None, pad: int = 0) -> None:
    """Images [N, 1, 28, 28] in [−1, 1] as one grey grid (``cols`` per row, default ≈ sqrt N; ``pad``
    black pixels around each image) with a title."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(images)
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    cell = 28 + 2 * pad
    grid = images.new_full((rows * cell, cols * cell), -1.0)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * cell + pad:r * cell + pad + 28, c * cell + pad:c * cell + pad + 28] = im[0]
    fig = Figure(figsize=(cols * 0.6 + 0.4, rows * 0.6 + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(grid.numpy(), cmap="gray", vmin=-1, vmax=1)
    ax.set_axis_off()
    ax.set_title(title, fontsize=8 if pad == 0 else 6)
    fig.savefig(path, bbox_inches="tight")


def _save_loss(steps: list[int], losses: list[float], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(steps, losses, lw=0.6, alpha=0.5, label="per step")
    w = max(1, len(losses) // 20)
    if len(losses) >= w:
        smooth = [sum(losses[i:i + w]) / w for i in range(len(losses) - w + 1)]
        ax.plot(steps[w - 1:], smooth, lw=1.5, label=f"mean of {w}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("EDM loss (λ-weighted)")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


@contextlib.contextmanager
def stage_progress(enabled: bool, description: str, total: float) -> Iterator[Callable[..., None]]:
    """A rich progress bar for one stage; yields ``update(completed, note="")`` (a no-op when disabled).
    Off a terminal, rich prints the bar once, when the stage ends."""
    if not enabled:
        yield lambda completed, note="": None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[note]}"), TimeElapsedColumn())
    with Progress(*columns) as bar:
        task = bar.add_task(description, total=total, note="")
        yield lambda completed, note="": bar.update(task, completed=completed, note=note)


def _watch_sigma(denoise, on_sigma: Callable[[float], None]):
    """``denoise`` that also reports the largest σ of every call (progress of a PF-ODE solve)."""
    def watched(x, sigma):
        on_sigma(float(sigma.max()))
        return denoise(x, sigma)
    return watched


def inpaint_top_half(denoise, digits_k, config: MnistDemoConfig, path: Optional[Path] = None) -> dict[str, Any]:
    """Complete the bottom half of held-out digits from their top 14 rows, by replacement and by the
    moment-matching posterior denoiser, with the demo's sampler and steps (Karras grid, σ ∈ [0.002, 80]).

    digits_k: uint8 [B, 1, 28, 28]. One noise draw, shared by both methods. Writes a picture (rows:
    digit, what the model sees, replacement, posterior) to ``path`` if given. Returns metrics: the MSE
    of each completion against the true bottom half in [−1, 1] units (one sample per digit, so a plausible
    completion that differs from the truth also counts as error; lower = more consistent with the
    known half), the max |known-part error| and the seconds each took.
    """
    import torch

    from sciffusion.common.grids import karras_grid
    from sciffusion.common.guidance import inpaint_posterior, inpaint_replace
    from sciffusion.common.samplers.registry import get_sampler

    truth = digits_k.float() / 127.5 - 1.0
    mask = torch.zeros(1, 1, 28, 28)
    mask[..., :14, :] = 1
    spec = get_sampler(config.sampler)
    sigmas = karras_grid(config.steps, 0.002, 80.0, 7.0)
    z = torch.randn(truth.shape, generator=torch.Generator().manual_seed(config.seed + 3)) * sigmas[0]
    out: dict[str, Any] = {"digits": len(truth), "known": "top 14 of 28 rows", "sampler": config.sampler,
                           "steps": config.steps, "cg_iters": config.inpaint_cg_iters}
    results = {}
    methods = (("replace", inpaint_replace(denoise, truth, mask)),
               ("posterior", inpaint_posterior(denoise, truth, mask, config.inpaint_cg_iters)))
    with stage_progress(config.progress, f"inpainting {len(truth)} digits", len(methods) * config.steps) as update:
        for k, (name, den) in enumerate(methods):
            t0 = time.monotonic()
            step = lambda info, k=k, name=name: update(k * config.steps + info.i + 1,
                                                       f"{name}: step {info.i + 1}/{config.steps}")
            res = spec(den, sigmas, z.clone(), generator=torch.Generator().manual_seed(config.seed + 4),
                       callback=step)
            results[name] = res.x.clamp(-1, 1).detach()
            out[name] = {"mse_unknown": float(((results[name] - truth) ** 2 * (1 - mask)).sum()
                                              / ((1 - mask).sum() * len(truth))),
                         "known_max_err": float(((results[name] - truth).abs() * mask).max()), "nfe": res.nfe,
                         "seconds": round(time.monotonic() - t0, 2)}
    if path is not None:
        seen = truth * mask + (1 - mask) * 0.0  # unknown half shown grey
        rows = torch.cat([truth, seen, results["replace"], results["posterior"]])
        _save_grid(rows, path,
                   f"rows: digit / known top half / replacement (MSE {out['replace']['mse_unknown']:.3f}) / "
                   f"posterior (MSE {out['posterior']['mse_unknown']:.3f}); {config.sampler}, {config.steps} steps",
                   cols=len(truth), pad=1)
    return out


def _train(config: MnistDemoConfig, train_k, root: Path):
    """Fit the denoiser for ``config.train_steps`` steps, capped at ``config.minutes``. Returns
    ``(module, trainer, loss history, stopped_by, seconds)``."""
    import pytorch_lightning as pl
    import torch

    from sciffusion.common.networks.unet2d import UNet2D
    from sciffusion.common.training import DiffusionModule, LossHistory, StepProgressBar, TimeBudget, stop_reason

    torch.manual_seed(config.seed)  # network initialisation
    module = DiffusionModule(UNet2D(config.net), dataclasses.replace(config.train, seed=config.seed))
    history, time_cap = LossHistory(), TimeBudget(config.minutes)
    callbacks: list[pl.Callback] = [time_cap, history] + ([StepProgressBar()] if config.progress else [])
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=-1, max_steps=config.train_steps, logger=False,
                         enable_checkpointing=False, enable_progress_bar=config.progress,
                         enable_model_summary=False, callbacks=callbacks, default_root_dir=root,
                         num_sanity_val_steps=0)
    t0 = time.monotonic()
    trainer.fit(module, datamodule=_datamodule(train_k, config.batch_size, config.seed))
    return module, trainer, history, stop_reason(trainer, time_cap), time.monotonic() - t0


def _bits_per_dim(denoise, digits_k, config: MnistDemoConfig) -> dict[str, Any]:
    """Held-out bits/dim of uint8 ``digits_k`` [B, 1, 28, 28] (module docstring), with a progress bar
    over ln σ from σ_min to σ_max."""
    import torch

    from sciffusion.common.likelihood import LikelihoodConfig, dequantize_uint8, log_likelihood

    lcfg = LikelihoodConfig(sigma_min=0.002, sigma_max=80.0, trace="hutchinson", n_probes=config.bpd_probes,
                            rtol=config.bpd_rtol, atol=config.bpd_rtol, data_scale=127.5)
    x = dequantize_uint8(digits_k, torch.Generator().manual_seed(config.seed + 1))
    t0 = time.monotonic()
    span = math.log(lcfg.sigma_max / lcfg.sigma_min)
    reached = [lcfg.sigma_min]  # the PF-ODE runs from σ_min up to σ_max
    with stage_progress(config.progress, f"bits/dim on {len(x)} digits", 1.0) as update:
        def on_sigma(sigma: float) -> None:
            reached[0] = min(max(reached[0], sigma), lcfg.sigma_max)  # adaptive steps may overshoot
            update(math.log(reached[0] / lcfg.sigma_min) / span, f"σ {reached[0]:.3g}/{lcfg.sigma_max:g}")

        lik = log_likelihood(_watch_sigma(denoise, on_sigma), x, lcfg,
                             generator=torch.Generator().manual_seed(config.seed + 2))
    bpd = lik.bpd
    return {
        "mean": float(bpd.mean()),
        "stderr": float(bpd.std() / math.sqrt(len(bpd))) if len(bpd) > 1 else None,
        "digits": len(bpd), "held_out_split": f"last {10000 - N_TRAIN} of the bundled digits, first {len(bpd)} used",
        "trace": f"hutchinson, {config.bpd_probes} rademacher probe(s)", "ode": f"dopri5 rtol=atol={config.bpd_rtol}",
        "sigma_min": 0.002, "sigma_max": 80.0, "nfe": lik.nfe, "seconds": round(time.monotonic() - t0, 2),
        "convention": "uniform dequantisation, x = (k + u)/127.5 - 1, bpd = (-log p(x) + D log 127.5)/(D ln 2), "
                      "log p evaluated at sigma_min (log p_{sigma_min}(x))",
    }


def run_mnist_demo(config: MnistDemoConfig) -> dict[str, Any]:
    """Train, sample, score and write the outputs (module docstring). Returns the metrics dict."""
    import torch

    from sciffusion.common.io.atomic import atomic_path, refuse_existing
    from sciffusion.common.networks.unet2d import count_parameters

    out = Path(config.out)
    refuse_existing(out, config.overwrite, "output folder")
    train_k, held_k = load_mnist(config.data_dir)

    with atomic_path(out, overwrite=config.overwrite) as tmp:
        tmp.mkdir()
        module, trainer, history, stopped_by, train_seconds = _train(config, train_k, tmp)
        trainer.save_checkpoint(tmp / "model.ckpt", weights_only=False)  # full: weights, optimizer, loops
        module.eval()

        g = torch.Generator().manual_seed(config.seed)
        t1 = time.monotonic()
        with stage_progress(config.progress, f"sampling {config.samples} images", config.steps) as update:
            res = module.sample((config.samples, 1, 28, 28), sampler=config.sampler, steps=config.steps, generator=g,
                                callback=lambda info: update(info.i + 1, f"step {info.i + 1}/{config.steps}"))
        sample_seconds = time.monotonic() - t1
        _save_grid(res.x.clamp(-1, 1).cpu(), tmp / "samples.png",
                   f"{config.sampler}, {config.steps} steps, NFE {res.nfe}; {trainer.global_step} train steps")
        _save_loss(history.steps, history.losses, tmp / "loss.png")

        metrics: dict[str, Any] = {
            "train_steps": trainer.global_step, "train_steps_budget": config.train_steps,
            "train_minutes_cap": config.minutes, "stopped_by": stopped_by, "train_seconds": round(train_seconds, 2),
            "train_images_seen": trainer.global_step * config.batch_size,
            "final_loss_mean_last_50": (sum(history.losses[-50:]) / len(history.losses[-50:])
                                        if history.losses else None),
            "parameters": count_parameters(module.net), "sampler": config.sampler, "sampler_nfe": res.nfe,
            "sample_seconds": round(sample_seconds, 2),
        }
        if config.inpaint_digits:
            metrics["inpaint"] = inpaint_top_half(module.denoiser(use_ema=True), held_k[-config.inpaint_digits:],
                                                  config, tmp / "inpaint.png")
        if config.bpd_digits:
            metrics["bpd"] = _bits_per_dim(module.denoiser(use_ema=True), held_k[:config.bpd_digits], config)
        resolved = config.to_dict()
        resolved["train"] = module.config.to_dict()
        (tmp / "config.json").write_text(json.dumps(resolved, indent=2) + "\n")
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


__all__ = ["MnistDemoConfig", "load_mnist", "run_mnist_demo"]
