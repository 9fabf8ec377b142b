from __future__ import annotations

import pytest
import torch

from sciffusion.domains.docking.neighbors import radius, radius_graph


def test_exact_edges_on_a_line():
    x = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [2.5, 0, 0]])
    edges = radius_graph(x, 1.5)
    assert sorted(map(tuple, edges.T.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    assert radius_graph(x, 1.5, loop=True).shape[1] == 7


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_chunked_matches_brute_force(chunk):
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(50, 3, generator=g) * 10, torch.rand(80, 3, generator=g) * 10
    edges = radius(x, y, 3.0, chunk_size=chunk)
    brute = (torch.cdist(x, y) <= 3.0).nonzero().T
    assert torch.equal(edges, brute)


def test_max_neighbors_keeps_nearest():
    x = torch.zeros(1, 3)
    y = torch.tensor([[3.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0]])
    assert radius(x, y, 5.0, max_neighbors=2)[1].sort().values.tolist() == [1, 2]


def test_bad_cutoff_and_empty():
    with pytest.raises(ValueError, match="cutoff"):
        radius(torch.zeros(1, 3), torch.zeros(1, 3), 0.0)
    assert radius(torch.zeros(0, 3), torch.zeros(4, 3), 1.0).shape == (2, 0)
