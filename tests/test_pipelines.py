"""The torch DataLoader and the tf.data pipeline give the same batches for one seed."""

from __future__ import annotations

import numpy as np
import pytest

import tfpt.data.tf as data_tf
import tfpt.data.torch as data_torch
from tfpt.data import LoaderOptions


def _epochs(loader, n_epochs: int, to_nhwc: bool):
    out = []
    for _ in range(n_epochs):
        batches = []
        for x, y in loader:
            x = x.numpy()
            batches.append((x.transpose(0, 2, 3, 1) if to_nhwc else x, y.numpy()))
        out.append(batches)
    return out


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_same_seed_same_batches_in_both_frameworks(request, name):
    ds = request.getfixturevalue(name)
    kwargs = dict(batch_size=100, seed=7, limit=1000)
    torch_epochs = _epochs(data_torch.loader(ds, **kwargs), 2, to_nhwc=True)
    tf_epochs = _epochs(data_tf.loader(ds, **kwargs), 2, to_nhwc=False)
    for t_batches, f_batches in zip(torch_epochs, tf_epochs):
        assert len(t_batches) == len(f_batches) == 10
        for (xt, yt), (xf, yf) in zip(t_batches, f_batches):
            np.testing.assert_array_equal(yt, yf)
            np.testing.assert_array_equal(xt, xf)  # bit-identical normalization
    first = lambda epochs, e: np.concatenate([y for _, y in epochs[e]])  # noqa: E731
    assert not np.array_equal(first(torch_epochs, 0), first(torch_epochs, 1))  # reshuffled


def test_layouts_dtypes_and_normalization(mnist):
    xt, yt = next(iter(data_torch.loader(mnist, batch_size=32)))
    xf, yf = next(iter(data_tf.loader(mnist, batch_size=32)))
    assert tuple(xt.shape) == (32, 1, 28, 28) and tuple(xf.shape) == (32, 28, 28, 1)
    assert str(xt.dtype) == "torch.float32" and xf.dtype.name == "float32"
    assert str(yt.dtype) == "torch.int64" and yf.dtype.name == "int64"
    whole = next(iter(data_torch.loader(mnist, batch_size=len(mnist.y_train),
                                        options=LoaderOptions(shuffle=False))))[0]
    assert abs(float(whole.mean())) < 0.05 and abs(float(whole.std()) - 1) < 0.05


@pytest.mark.parametrize("split", ["val", "test"])
def test_same_batches_for_validation_and_test(mnist, split):
    xt, yt = next(iter(data_torch.loader(mnist, split, batch_size=300)))
    xf, yf = next(iter(data_tf.loader(mnist, split, batch_size=300)))
    np.testing.assert_array_equal(xt.numpy().transpose(0, 2, 3, 1), xf.numpy())
    np.testing.assert_array_equal(yt.numpy(), mnist.arrays(split, 300)[1])  # in order


def test_different_seeds_differ_and_test_split_is_in_order(mnist):
    a = next(iter(data_torch.loader(mnist, seed=1)))[1].numpy()
    b = next(iter(data_torch.loader(mnist, seed=2)))[1].numpy()
    assert not np.array_equal(a, b)
    test_batch = next(iter(data_tf.loader(mnist, split="test", batch_size=5)))[1].numpy()
    np.testing.assert_array_equal(test_batch, mnist.y_test[:5])


def test_drop_last_and_limit_agree(mnist):
    kwargs = dict(batch_size=64, limit=1000, options=LoaderOptions(drop_last=True))
    assert len(list(data_torch.loader(mnist, **kwargs))) == 15
    assert len(list(data_tf.loader(mnist, **kwargs))) == 15
