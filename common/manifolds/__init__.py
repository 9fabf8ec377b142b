"""Diffusion on manifolds: SO(3) (rotation vectors, IGSO(3)), tori (wrapped normal) and a product
process that runs ℝⁿ × SO(3) × Tᵐ parts under one time variable (see ``product.py``), any part dense
or ragged (a varying number of rows per sample, see ``ragged.py``)."""
from sciffusion.common.manifolds.igso3 import (
    igso3_angle_cdf, igso3_angle_density, igso3_angle_score, igso3_log_density, igso3_score, igso3_score_vec,
    sample_igso3, sample_igso3_angle, sample_igso3_vec, score_norm as igso3_score_norm,
)
from sciffusion.common.manifolds.closed_form import HeatKernelData
from sciffusion.common.manifolds.product import (
    SO3, Euclidean, ProductProcess, ProductResult, ScoreFn, State, Tangents, Torus, concat_states, values_of,
)
from sciffusion.common.manifolds.ragged import Ragged, RaggedShape
from sciffusion.common.manifolds.so3 import (
    exp_map, haar_angle_density, hat, log_map, random_rotation, rotation_angle, vee,
)
from sciffusion.common.manifolds.torus import (
    sample_wrapped_normal, score_norm as wrapped_normal_score_norm, wrap, wrapped_normal_log_density,
    wrapped_normal_score,
)

__all__ = ["Euclidean", "HeatKernelData", "ProductProcess", "ProductResult", "Ragged", "RaggedShape", "SO3", "ScoreFn", "State",
           "Tangents", "Torus", "concat_states", "exp_map", "haar_angle_density", "hat",
           "igso3_angle_cdf", "igso3_angle_density", "igso3_angle_score", "igso3_log_density", "igso3_score",
           "igso3_score_norm", "igso3_score_vec", "log_map", "random_rotation", "rotation_angle",
           "sample_igso3", "sample_igso3_angle", "sample_igso3_vec", "sample_wrapped_normal", "vee", "wrap",
           "values_of", "wrapped_normal_log_density", "wrapped_normal_score", "wrapped_normal_score_norm"]
