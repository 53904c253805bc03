"""Run the dynamics tests with one torch thread (restored after each test).

The tests use small matrices: on a shared, oversubscribed machine two intra-op threads spin-wait on each
other and make them 10-50× slower, while one thread is as fast on an idle machine.
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
