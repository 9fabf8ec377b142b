import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Sampling loops over small tensors: one intra-op thread is faster on a shared 2-core machine
    (measured >10x for the manifold and guidance tests under load)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
