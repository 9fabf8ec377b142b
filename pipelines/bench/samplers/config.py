"""Settings of ``sciffusion bench samplers`` and the names it can run, checked before any work."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from sciffusion.pipelines.bench.contenders import LIBRARIES
from sciffusion.pipelines.bench.ours import OWN_GRID_SUFFIX

SEED_INIT, SEED_NOISE, SEED_PILOT = 1234, 5678, 4242
FULL_BUDGETS = (5, 10, 20, 35, 50)
QUICK_BUDGETS = (5, 20)
TARGETS = ("gmm1d", "gmm64")
OUR_DEFAULT_SAMPLERS = ("euler", "heun", "ddim", "ddpm", "euler_maruyama", "pc", "dpm_solver_1", "dpmpp_2m",
                        "dpmpp_2m_sde", "exp3m", "unipc", "unipc3", "adaptive_ode")
OUR_OWN_GRID_SAMPLERS = ("dpmpp_2m", "unipc", "unipc3")
NOT_BENCHMARKED = ("heun_churn",)


def our_samplers() -> tuple[str, ...]:
    """Our registered samplers the benchmark runs on the Karras grid: the defaults, then any other
    registered sampler not marked ``bench: False`` (new solvers join automatically)."""
    from sciffusion.common.samplers.registry import SAMPLERS

    extra = tuple(n for n, s in SAMPLERS.items() if n not in OUR_DEFAULT_SAMPLERS and s.options.get("bench", True)
                  and n not in NOT_BENCHMARKED)
    return OUR_DEFAULT_SAMPLERS + extra


def our_own_grid_samplers() -> tuple[str, ...]:
    """Our samplers also run on the designed grid (own-grid track): the chosen three, then every other
    registered deterministic, fixed-step sampler."""
    from sciffusion.common.samplers.registry import SAMPLERS

    extra = tuple(n for n, s in SAMPLERS.items() if n not in OUR_OWN_GRID_SAMPLERS and n not in OUR_DEFAULT_SAMPLERS
                  and not s.stochastic and not s.adaptive and n not in NOT_BENCHMARKED)
    return OUR_OWN_GRID_SAMPLERS + extra


def known_samplers(library: str) -> tuple[str, ...]:
    """Every name ``--samplers`` may give for ``library`` (ours: also ``<name>@designed``)."""
    from sciffusion.pipelines.bench.peers import PEER_SAMPLERS

    if library == "sciffusion":
        return our_samplers() + tuple(n + OWN_GRID_SUFFIX for n in our_own_grid_samplers())
    return PEER_SAMPLERS[library]


def _check_list(option: str, values: tuple, allowed: Optional[tuple] = None) -> None:
    """``option``: one line if a value repeats or (with ``allowed``) is not one of ``allowed``."""
    repeated = sorted({str(v) for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{option}: repeated {', '.join(repeated)}")
    if allowed is not None:
        unknown = [str(v) for v in values if v not in allowed]
        if unknown:
            raise ValueError(f"{option}: unknown {', '.join(unknown)} (choose from {', '.join(allowed)})")


def _check_samplers(names: tuple[str, ...], libraries: tuple[str, ...]) -> None:
    """``--samplers``: one line naming repeated names, unknown names (with the known ones per
    library) or names of a library that ``--only`` leaves out."""
    _check_list("--samplers", names)
    known = {lib: known_samplers(lib) for lib in LIBRARIES}
    unknown = [n for n in names if not any(n in k for k in known.values())]
    if unknown:
        ours = ", ".join(our_samplers()) + " (+ @designed: " + ", ".join(our_own_grid_samplers()) + ")"
        listing = "; ".join(f"{lib}: {ours if lib == 'sciffusion' else ', '.join(known[lib])}" for lib in LIBRARIES)
        raise ValueError(f"--samplers: unknown {', '.join(unknown)} (known: {listing})")
    left_out = [n for n in names if not any(n in known[lib] for lib in libraries)]
    if left_out:
        raise ValueError(f"--samplers: {', '.join(left_out)} not in the libraries of --only ({', '.join(libraries)})")


@dataclass(frozen=True)
class SamplerBenchConfig:
    """Resolved settings of one benchmark run. ``None`` sizes mean: the full run's (65,536 / 32,768
    samples, 7 timing repeats) or, with ``quick``, 4,096 / 2,048 samples and 2 repeats.
    ``samplers`` empty: all of the chosen libraries' contenders; else only those names."""

    out: Path
    overwrite: bool = False
    quick: bool = False
    timing: bool = True
    libraries: tuple[str, ...] = LIBRARIES
    samplers: tuple[str, ...] = ()
    budgets: tuple[int, ...] = ()           # empty: FULL_BUDGETS (QUICK_BUDGETS with quick)
    n_gmm1d: Optional[int] = None
    n_gmm64: Optional[int] = None
    timing_reps: Optional[int] = None
    ode_ref_steps: int = 500
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    targets: tuple[str, ...] = TARGETS
    plot: bool = True
    pilot_batch: int = 512                  # designed grid: pilot samples and fine-grid steps
    pilot_steps: int = 200

    def __post_init__(self) -> None:
        if not self.libraries:
            raise ValueError(f"--only: no library given (choose from {', '.join(LIBRARIES)})")
        _check_list("--only", self.libraries, LIBRARIES)
        _check_samplers(self.samplers, self.libraries)
        _check_list("--budgets", self.budgets)
        if any(b < 1 for b in self.budgets):
            raise ValueError(f"--budgets: every budget must be a positive integer, got {', '.join(map(str, self.budgets))}")
        for option, n in (("--n-gmm1d", self.n_gmm1d), ("--n-gmm64", self.n_gmm64)):
            if n is not None and n < 2:
                raise ValueError(f"{option}: must be >= 2, got {n}")
        if self.timing_reps is not None and self.timing_reps < 1:
            raise ValueError(f"timing_reps: must be >= 1, got {self.timing_reps}")
        if self.ode_ref_steps < 2:
            raise ValueError(f"ode_ref_steps: must be >= 2, got {self.ode_ref_steps}")
        if not 0 < self.sigma_min < self.sigma_max:
            raise ValueError(f"sigma range: need 0 < min < max, got ({self.sigma_min}, {self.sigma_max})")
        if any(t not in TARGETS for t in self.targets) or not self.targets:
            raise ValueError(f"targets: choose from {TARGETS}, got {self.targets}")

    @property
    def budget_list(self) -> tuple[int, ...]:
        return self.budgets or (QUICK_BUDGETS if self.quick else FULL_BUDGETS)

    def n_samples(self, target: str) -> int:
        given = {"gmm1d": self.n_gmm1d, "gmm64": self.n_gmm64}[target]
        if given is not None:
            return given
        return {"gmm1d": 4096, "gmm64": 2048}[target] if self.quick else {"gmm1d": 65536, "gmm64": 32768}[target]

    @property
    def reps(self) -> int:
        return self.timing_reps or (2 if self.quick else 7)

    def wants(self, name: str, library: str) -> bool:
        """Whether ``samplers`` selects this contender; ours: ``name`` or ``name@designed`` selects both grids."""
        if not self.samplers or name in self.samplers:
            return True
        return library == "sciffusion" and name + OWN_GRID_SUFFIX in self.samplers
