import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Small tensors, many steps: one intra-op thread is faster on a shared 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
