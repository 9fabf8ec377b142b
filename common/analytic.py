"""Distributions with closed-form denoisers, for testing samplers, likelihoods and guidance.

For an isotropic Gaussian mixture p = Σ_k w_k N(μ_k, s_k² I) in d dimensions, the noisy marginal at
σ is Σ_k w_k N(μ_k, (s_k² + σ²) I) and the exact posterior-mean denoiser is

    D(x, σ) = Σ_k r_k(x) [ (σ² μ_k + s_k² x) / (s_k² + σ²) ],   r_k ∝ w_k N(x; μ_k, (s_k² + σ²) I).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor


@dataclass(frozen=True)
class GaussianMixture:
    """Isotropic Gaussian mixture: ``weights`` [K] (sum 1), ``means`` [K, d], ``stds`` [K] (float64)."""

    weights: Tensor
    means: Tensor
    stds: Tensor

    def __post_init__(self) -> None:
        w, m, s = (torch.as_tensor(v, dtype=torch.float64) for v in (self.weights, self.means, self.stds))
        if m.dim() != 2 or w.shape != (m.shape[0],) or s.shape != (m.shape[0],):
            raise ValueError(f"mixture: need weights [K], means [K, d], stds [K]; got {tuple(w.shape)}, "
                             f"{tuple(m.shape)}, {tuple(s.shape)}")
        if (w < 0).any() or abs(float(w.sum()) - 1) > 1e-9 or (s <= 0).any():
            raise ValueError("mixture: weights must be >= 0 and sum to 1, stds > 0")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "means", m)
        object.__setattr__(self, "stds", s)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def _log_resp(self, x: Tensor, var: Tensor) -> Tensor:
        """log w_k N(x; μ_k, var_k I), x [N, d] float64, var [N or 1, K] → [N, K]."""
        d2 = (x * x).sum(1, keepdim=True) - 2 * x @ self.means.T + (self.means**2).sum(1)
        return self.weights.log() - d2 / (2 * var) - 0.5 * self.dim * torch.log(2 * math.pi * var)

    def denoise(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        """Exact E[x0 | x0 + σε = x]; x [N, d] any float dtype, σ scalar or [N]; float64 inside."""
        dtype = x.dtype
        x = x.double()
        s2 = torch.as_tensor(sigma, dtype=torch.float64, device=x.device).reshape(-1, 1) ** 2
        v = self.stds**2
        tot = v + s2
        r = torch.softmax(self._log_resp(x, tot), dim=1)
        return ((r * s2 / tot) @ self.means + (r * v / tot).sum(1, keepdim=True) * x).to(dtype)

    def log_prob(self, x: Tensor, sigma: float = 0.0) -> Tensor:
        """log p_σ(x) of the σ-noised mixture, x [N, d] → [N] (nats)."""
        tot = (self.stds**2 + sigma**2).reshape(1, -1)
        return torch.logsumexp(self._log_resp(x.double(), tot), dim=1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n exact samples, [n, d] float64."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return self.means[k] + self.stds[k, None] * z

    def condition(self, known: Sequence[int], values: Tensor) -> "GaussianMixture":
        """p(x_u | x_known = values), again an isotropic mixture over the other coordinates (in order):
        weights ∝ w_k N(values; μ_k,known, s_k² I), means μ_k,u, the same stds. values: [len(known)]."""
        idx = _split(self.dim, known)
        v = torch.as_tensor(values, dtype=torch.float64).reshape(1, -1)
        sub = GaussianMixture(self.weights, self.means[:, idx.known], self.stds)
        log_w = sub._log_resp(v, (self.stds**2).reshape(1, -1))[0]
        return GaussianMixture(torch.softmax(log_w, 0), self.means[:, idx.unknown], self.stds)

    def cdf_1d(self, x: Tensor) -> Tensor:
        """CDF of a 1-D mixture at points ``x`` (any shape)."""
        if self.dim != 1:
            raise ValueError(f"cdf_1d: mixture is {self.dim}-dimensional")
        z = (x.double().unsqueeze(-1) - self.means[:, 0]) / self.stds
        return (self.weights * 0.5 * (1 + torch.erf(z / math.sqrt(2)))).sum(-1)


@dataclass(frozen=True)
class _Split:
    known: list[int]
    unknown: list[int]


def _split(dim: int, known: Sequence[int]) -> _Split:
    k = [int(i) for i in known]
    if not k or len(set(k)) != len(k) or min(k) < 0 or max(k) >= dim:
        raise ValueError(f"known: need distinct coordinates in [0, {dim}), got {list(known)}")
    return _Split(k, [i for i in range(dim) if i not in k])


@dataclass(frozen=True)
class Gaussian:
    """N(mean [d], cov [d, d]) with its exact denoiser and conditionals (float64).

    D(x, σ) = μ + Σ (Σ + σ² I)⁻¹ (x − μ); the posterior covariance Cov[x0 | x_σ] = σ² ∂D/∂x.
    """

    mean: Tensor
    cov: Tensor

    def __post_init__(self) -> None:
        m, c = torch.as_tensor(self.mean, dtype=torch.float64), torch.as_tensor(self.cov, dtype=torch.float64)
        if m.dim() != 1 or c.shape != (m.shape[0], m.shape[0]):
            raise ValueError(f"gaussian: need mean [d], cov [d, d]; got {tuple(m.shape)}, {tuple(c.shape)}")
        if not torch.allclose(c, c.T) or float(torch.linalg.eigvalsh(c).min()) <= 0:
            raise ValueError("gaussian: cov must be symmetric positive definite")
        object.__setattr__(self, "mean", m)
        object.__setattr__(self, "cov", c)

    @property
    def dim(self) -> int:
        return self.mean.shape[0]

    def denoise(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        """Exact E[x0 | x0 + σε = x]; x [N, d], σ scalar or [N]; differentiable in x."""
        evals, q = torch.linalg.eigh(self.cov)
        s2 = torch.as_tensor(sigma, dtype=torch.float64, device=x.device).reshape(-1, 1) ** 2
        xc = x.double() - self.mean
        return (self.mean + ((xc @ q) * evals / (evals + s2)) @ q.T).to(x.dtype)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n exact samples, [n, d] float64."""
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return self.mean + z @ torch.linalg.cholesky(self.cov).T

    def condition(self, known: Sequence[int], values: Tensor) -> "Gaussian":
        """p(x_u | x_known = values) over the other coordinates (in order): mean μ_u + Σ_uk Σ_kk⁻¹ (v − μ_k),
        cov Σ_uu − Σ_uk Σ_kk⁻¹ Σ_ku."""
        idx = _split(self.dim, known)
        k, u = idx.known, idx.unknown
        v = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
        gain = torch.linalg.solve(self.cov[k][:, k], self.cov[k][:, u]).T
        return Gaussian(self.mean[u] + gain @ (v - self.mean[k]), self.cov[u][:, u] - gain @ self.cov[k][:, u])

    def marginal_1d(self, i: int) -> GaussianMixture:
        """The 1-D marginal of coordinate i, as a one-component mixture (for W1 / KS against samples)."""
        return GaussianMixture(torch.ones(1), self.mean[i].reshape(1, 1), self.cov[i, i].sqrt().reshape(1))


def bimodal_1d() -> GaussianMixture:
    """0.3 N(−2, 0.5²) + 0.7 N(2, 0.5²), the 1-D benchmark target."""
    return GaussianMixture(torch.tensor([0.3, 0.7]), torch.tensor([[-2.0], [2.0]]), torch.tensor([0.5, 0.5]))


def wasserstein1_1d(samples: Tensor, mixture: GaussianMixture, grid_points: int = 200_001) -> float:
    """W1 between the empirical CDF of 1-D ``samples`` [N] and the mixture's CDF, ∫|F_n − F| dx."""
    xs = torch.sort(samples.double().reshape(-1)).values
    lo, hi = min(float(xs[0]), -10.0), max(float(xs[-1]), 10.0)
    grid = torch.linspace(lo, hi, grid_points, dtype=torch.float64)
    f_n = torch.searchsorted(xs, grid, right=True).double() / len(xs)
    return float(torch.trapezoid((f_n - mixture.cdf_1d(grid)).abs(), grid))


def ks_statistic_1d(samples: Tensor, mixture: GaussianMixture) -> float:
    """Kolmogorov–Smirnov statistic sup |F_n − F| of 1-D ``samples`` against the mixture."""
    xs = torch.sort(samples.double().reshape(-1)).values
    n = len(xs)
    cdf = mixture.cdf_1d(xs)
    upper = torch.arange(1, n + 1, dtype=torch.float64) / n - cdf
    lower = cdf - torch.arange(0, n, dtype=torch.float64) / n
    return float(torch.maximum(upper, lower).max())
