"""The training loop: history, metrics, schedules, early stopping, checkpoints and exact resumption."""

import numpy as np
import pytest

import shenjing as sj
from shenjing import nn
from shenjing.data import make_blobs
from shenjing.train import EarlyStopping, accuracy, evaluate, fit
from shenjing.utils.data import DataLoader, TensorDataset


def _loaders(seed=0):
    x, y = make_blobs(240, centers=3, std=0.6, seed=seed)
    train = DataLoader(TensorDataset(x[:180], y[:180]), batch_size=16, shuffle=True,
                       generator=sj.Generator().manual_seed(seed))
    val = DataLoader(TensorDataset(x[180:], y[180:]), batch_size=60)
    return train, val


def _model(seed=0):
    sj.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3))


def test_fit_learns_and_records_history():
    train, val = _loaders()
    model = _model()
    optimizer = sj.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = sj.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    history = fit(model, train, nn.CrossEntropyLoss(), optimizer, 6, val_data=val, scheduler=scheduler,
                  progress=False)
    assert len(history) == 6 and history["epoch"] == [1, 2, 3, 4, 5, 6]
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.9
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05])
    result = evaluate(model, val, nn.CrossEntropyLoss())
    assert result["accuracy"] == pytest.approx(history["val_accuracy"][-1])
    assert model.training  # evaluate restores the mode


def test_accuracy_metric():
    logits = sj.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    assert accuracy(logits, sj.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    assert accuracy(sj.tensor([0.5, -1.0, 2.0]), sj.tensor([1.0, 0.0, 0.0])) == pytest.approx(2 / 3)


def test_early_stopping_stops_and_restores_the_best_weights():
    train, val = _loaders()
    model = _model()
    optimizer = sj.optim.SGD(model.parameters(), lr=0.5)

    stopper = EarlyStopping(patience=2, monitor="val_loss")
    seen = []
    original_update = stopper.update

    def update(epoch, value, model):
        # the validation loss the stopper sees rises after epoch 2, as when a model starts to overfit
        value = [1.0, 0.5, 0.7, 0.8, 0.9, 1.0, 1.1][epoch - 1]
        seen.append(value)
        if epoch == 2:
            update.best_weights = {k: v.clone() for k, v in model.state_dict().items()}
        return original_update(epoch, value, model)

    stopper.update = update
    history = fit(model, train, nn.CrossEntropyLoss(), optimizer, 7, val_data=val, early_stopping=stopper, progress=False)
    assert history.stopped_early and len(history) == 5 and history.best_epoch == 2
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), update.best_weights[key].numpy())


def test_early_stopping_needs_what_it_monitors():
    train, _ = _loaders()
    model = _model()
    with pytest.raises(ValueError, match="val_loss"):
        fit(model, train, nn.CrossEntropyLoss(), sj.optim.SGD(model.parameters(), lr=0.1), 2,
            early_stopping=EarlyStopping(), progress=False)


def test_resuming_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path):
    def run(epochs, checkpoint=None, resume=False):
        train, val = _loaders()
        model = _model()
        optimizer = sj.optim.Adam(model.parameters(), lr=0.01)
        scheduler = sj.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
        history = fit(model, train, nn.CrossEntropyLoss(), optimizer, epochs, val_data=val, scheduler=scheduler,
                      checkpoint=checkpoint, resume=resume, early_stopping=EarlyStopping(patience=10),
                      progress=False)
        return model, history

    uninterrupted, full_history = run(6)
    path = tmp_path / "run.ckpt"
    run(3, checkpoint=path)                      # "crashes" after epoch 3
    sj.manual_seed(12345)                        # whatever happened in between
    resumed, history = run(6, checkpoint=path, resume=True)
    assert history["epoch"] == [1, 2, 3, 4, 5, 6]
    assert history["loss"] == pytest.approx(full_history["loss"], rel=1e-6)
    for (name, a), b in zip(uninterrupted.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_fit_rejects_bad_arguments():
    train, _ = _loaders()
    model = _model()
    optimizer = sj.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, train, nn.CrossEntropyLoss(), optimizer, 0)
    with pytest.raises(ValueError, match="no batches"):
        fit(model, [], nn.CrossEntropyLoss(), optimizer, 1, progress=False)
