"""tfpt.checkpoint: round trips, GPU-to-CPU loading, cross-framework transfer, clear errors."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch

import tfpt
from tfpt import port
from tfpt.checkpoint import CheckpointError, sniff
from tfpt.checkpoint import keras as ckpt_keras
from tfpt.checkpoint import torch as ckpt_torch
from tfpt.models import keras as keras_models
from tfpt.models import torch as torch_models
from tfpt.parity import assert_close


@pytest.fixture(autouse=True)
def _seeded():
    tfpt.seed(0)


@pytest.fixture
def images(cifar10):
    x = ((cifar10.x_test[:16] / 255.0 - 0.47) / 0.25).astype("float32")
    return x, torch.from_numpy(x.transpose(0, 3, 1, 2).copy())


def _trained_torch_resnet(images):
    """A FastResNet with non-trivial weights and BatchNorm statistics."""
    model = torch_models.FastResNet(width=8)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x = images[1]
    for _ in range(3):
        opt.zero_grad()
        model(x).logsumexp(1).mean().backward()
        opt.step()
    return model.eval(), opt


def test_torch_round_trip_gives_identical_predictions(tmp_path, images):
    model, opt = _trained_torch_resnet(images)
    path = ckpt_torch.save(tmp_path / "m.pt", model, opt, epoch=3)
    fresh = torch_models.FastResNet(width=8)
    saved = ckpt_torch.load(path, fresh, torch.optim.SGD(fresh.parameters(), lr=0.05))
    assert saved.model is fresh and saved.extra == {"epoch": 3}
    assert saved.info["model"]["name"] == "FastResNet" and saved.info["trained_on"] == "cpu"
    assert saved.info["versions"]["torch"] == str(torch.__version__)
    assert saved.optimizer.state_dict()["state"].keys() == opt.state_dict()["state"].keys()
    rebuilt = ckpt_torch.load(path).model  # a twin model is rebuilt from its saved spec
    with torch.no_grad():
        assert torch.equal(model(images[1]), fresh.eval()(images[1]))
        assert torch.equal(model(images[1]), rebuilt.eval()(images[1]))


def test_keras_round_trip_gives_identical_predictions(tmp_path, images):
    model = keras_models.FastResNet(width=8)
    for name in ("m.keras", "m.weights.h5"):
        path = ckpt_keras.save(tmp_path / name, model)
        loaded = ckpt_keras.load(path, keras_models.FastResNet(width=8)).model
        np.testing.assert_array_equal(model.predict(images[0], verbose=0),
                                      loaded.predict(images[0], verbose=0))
    whole = ckpt_keras.load(tmp_path / "m.keras")  # whole model, safe mode
    assert whole.model.name == "FastResNet" and whole.info["model"]["name"] == "FastResNet"


def test_keras_checkpoint_keeps_extra_values_and_the_optimizer_state(tmp_path, images):
    import keras

    model = keras_models.MLP(image_shape=(32, 32, 3))
    opt = keras.optimizers.Adam(1e-3)
    model.compile(optimizer=opt, loss="mse")
    model.fit(images[0], np.zeros((16, 10), "float32"), epochs=2, verbose=0)
    path = ckpt_keras.save(tmp_path / "m.keras", model, opt, epoch=2, history={"loss": [1.0]})
    fresh_opt = keras.optimizers.Adam(1e-3)
    saved = ckpt_keras.load(path, keras_models.MLP(image_shape=(32, 32, 3)), fresh_opt)
    assert saved.extra == {"epoch": 2, "history": {"loss": [1.0]}}
    assert saved.optimizer is fresh_opt and int(fresh_opt.iterations) == 2
    for mine, theirs in zip(fresh_opt.variables, opt.variables):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    with pytest.raises(CheckpointError, match="compile the model with this optimizer"):
        ckpt_keras.save(tmp_path / "x.keras", model, keras.optimizers.Adam())
    with pytest.raises(CheckpointError, match="holds weights only"):
        ckpt_keras.save(tmp_path / "x.weights.h5", model, epoch=1)


def _as_if_saved_on_gpu(path):
    """Rewrite a CPU checkpoint so its tensors say they live on cuda:0."""
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    pkl = next(n for n in members if n.endswith("data.pkl"))
    cpu, cuda = b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0"
    assert cpu in members[pkl]
    members[pkl] = members[pkl].replace(cpu, cuda)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    path.write_bytes(buffer.getvalue())


def test_gpu_checkpoint_loads_on_cpu(tmp_path, images):
    model, _ = _trained_torch_resnet(images)
    path = ckpt_torch.save(tmp_path / "gpu.pt", model)
    _as_if_saved_on_gpu(path)
    if not torch.cuda.is_available():  # the problem map_location solves
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, weights_only=True)
    laptop = torch_models.FastResNet(width=8)
    ckpt_torch.load(path, laptop)  # default device: cpu
    assert next(laptop.parameters()).device.type == "cpu"
    with torch.no_grad():
        assert torch.equal(model(images[1]), laptop.eval()(images[1]))


def test_trained_weights_move_across_frameworks_and_back(images):
    model, _ = _trained_torch_resnet(images)
    keras_twin = keras_models.FastResNet(width=8)
    port.torch_to_keras(model, keras_twin)
    with torch.no_grad():
        expected = model(images[1]).numpy()
    assert_close(keras_twin(images[0], training=False), expected, rtol=1e-4, atol=1e-4, quiet=True)
    back = torch_models.FastResNet(width=8)
    port.keras_to_torch(keras_twin, back)
    with torch.no_grad():
        assert_close(back.eval()(images[1]), expected, rtol=1e-6, atol=1e-6, quiet=True)


def test_checkpoint_from_the_other_framework(tmp_path):
    keras_path = ckpt_keras.save(tmp_path / "k.keras", keras_models.MLP())
    torch_path = ckpt_torch.save(tmp_path / "t.pt", torch_models.MLP())
    with pytest.raises(CheckpointError, match="is a keras checkpoint, not a torch one.*tfpt.port"):
        ckpt_torch.load(keras_path, torch_models.MLP())
    with pytest.raises(CheckpointError, match="is a torch checkpoint, not a keras one"):
        ckpt_keras.load(torch_path)
    assert sniff(keras_path) == "keras" and sniff(torch_path) == "torch"


def test_checkpoint_from_a_different_model(tmp_path):
    torch_path = ckpt_torch.save(tmp_path / "cnn.pt", torch_models.MnistCNN())
    with pytest.raises(CheckpointError, match=r"holds MnistCNN\(.*\) but the model is MLP\("):
        ckpt_torch.load(torch_path, torch_models.MLP())
    with pytest.raises(CheckpointError, match="'1.weight' is missing in the checkpoint"):
        ckpt_torch.load(torch_path, torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)))
    keras_path = ckpt_keras.save(tmp_path / "cnn.keras", keras_models.MnistCNN())
    with pytest.raises(CheckpointError, match=r"holds MnistCNN\(.*\) but the model is MLP\("):
        ckpt_keras.load(keras_path, keras_models.MLP())
    import keras

    plain = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(CheckpointError, match="holds 'MnistCNN' whose weight 0"):
        ckpt_keras.load(keras_path, plain)


def test_same_shapes_but_different_twin_settings_are_refused(tmp_path):
    """Dropout has no weights: only the saved model spec can tell these two apart."""
    torch_path = ckpt_torch.save(tmp_path / "mlp.pt", torch_models.MLP(dropout=0.0))
    with pytest.raises(CheckpointError, match="but the model is MLP"):
        ckpt_torch.load(torch_path, torch_models.MLP(dropout=0.5))
    keras_path = ckpt_keras.save(tmp_path / "mlp.keras", keras_models.MLP(dropout=0.0))
    with pytest.raises(CheckpointError, match="but the model is MLP"):
        ckpt_keras.load(keras_path, keras_models.MLP(dropout=0.5))


def test_keras_weights_file_refuses_an_optimizer_and_a_model_given_gets_no_foreign_optimizer(tmp_path):
    import keras

    model = keras_models.MLP()
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)  # as after training: state to save
    with pytest.raises(CheckpointError, match="holds weights only"):
        ckpt_keras.save(tmp_path / "w.weights.h5", model, model.optimizer)
    ckpt_keras.save(tmp_path / "w.weights.h5", model)
    with pytest.raises(CheckpointError, match="holds weights only"):
        ckpt_keras.load(tmp_path / "w.weights.h5", keras_models.MLP(), keras.optimizers.Adam())
    ckpt_keras.save(tmp_path / "m.keras", model, model.optimizer)
    assert ckpt_keras.load(tmp_path / "m.keras").optimizer is not None  # the loaded model's own
    assert ckpt_keras.load(tmp_path / "m.keras", keras_models.MLP()).optimizer is None  # as in torch
    assert ckpt_torch.load(ckpt_torch.save(tmp_path / "m.pt", torch_models.MLP()),
                           torch_models.MLP()).optimizer is None


@pytest.mark.parametrize("suffix", [".pt", ".keras"])
def test_truncated_checkpoint(tmp_path, suffix):
    path = tmp_path / f"m{suffix}"
    if suffix == ".pt":
        ckpt_torch.save(path, torch_models.MLP())
    else:
        ckpt_keras.save(path, keras_models.MLP())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    loader = ckpt_torch.load if suffix == ".pt" else ckpt_keras.load
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        loader(path)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        ckpt_torch.load(tmp_path / "nope.pt")
    plain = torch.nn.Linear(2, 2)
    ckpt_torch.save(tmp_path / "plain.pt", plain)
    with pytest.raises(CheckpointError, match="cannot rebuild: build the model first"):
        ckpt_torch.load(tmp_path / "plain.pt")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a checkpoint tfpt knows"):
        ckpt_keras.load(tmp_path / "notes.txt")


def test_save_is_atomic_when_interrupted(tmp_path, monkeypatch):
    path = ckpt_torch.save(tmp_path / "m.pt", torch_models.MLP())
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        ckpt_torch.save(path, torch_models.MLP())
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.pt"]
