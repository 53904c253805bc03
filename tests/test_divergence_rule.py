"""Issue 17 item 3: a finite blow-up is divergence, raised as TrainingDiverged naming the step and the lr."""

from __future__ import annotations

import pytest
import torch

from netoptima.conventions import TrainingDiverged
from netoptima.dynamics import GD, TwoLayerMLP, TwoLayerReLUNTK, train_full_batch
from netoptima.dynamics.data import theory_data
from netoptima.explicit import SoftmaxClassifier, train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("model_cls", [TwoLayerReLUNTK, TwoLayerMLP])
def test_gd_at_lr_1e6_raises_instead_of_returning_a_finite_loss(model_cls):
    """GD at lr 1e6 blew the loss to 5e51, killed the ReLUs and returned a finite 9.52."""
    X, y = theory_data(50)
    model = model_cls(64, 100, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with pytest.raises(TrainingDiverged, match=r"at step 1 with learning rate 1e\+06 \(loss .*starting loss") as info:
        train_full_batch(model, X, y, GD(model.parameters(), 1e6), steps=100, quiet=True)
    assert info.value.step == 1 and info.value.lr == 1e6 and info.value.loss > 1e4 * 1.0


def test_explicit_train_at_lr_1e12_raises_naming_step_and_lr():
    """explicit.train at lr 1e12 ended with a batch loss of 2.6e23 and no error."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(300, 8, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (300,), generator=gen)
    with pytest.raises(TrainingDiverged, match=r"at step \d+ with learning rate 1e\+12") as info:
        train(SoftmaxClassifier(8, 3), x, y, optimizer="sgd", lr=1e12, steps=20, batch_size=50, quiet=True)
    assert info.value.lr == 1e12 and 1 <= info.value.step <= 20
