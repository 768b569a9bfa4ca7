import pytest
import torch

from gan_core import data


@pytest.fixture(scope="session")
def digits():
    return data.load("bundled")[0]


@pytest.fixture(autouse=True)
def _one_thread():
    # tests run beside other work on 2 cores: one torch thread avoids oversubscription
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
