"""Multi-worker data parallelism in TensorFlow: notebook 07's worker script.

One process per worker, on one machine or several. ``TF_CONFIG`` tells each one
the whole cluster and which worker it is; worker 0 is the chief:

    TF_CONFIG='{"cluster": {"worker": ["hostA:12345", "hostB:12345"]},
                "task": {"type": "worker", "index": 0}}' \
        python scripts/tf_worker.py --data DATA.npz --out FOLDER
    python scripts/tf_worker.py --data DATA.npz --out FOLDER      # no TF_CONFIG: one process

DATA holds the normalized training images ``x`` (N, 28, 28, 1) and labels ``y``.
The chief writes ``model.keras``, ``step1.npz`` (the weights after the first step)
and ``run.json`` (the loss curve and step times) into FOLDER.

Keras ``fit`` fails under ``MultiWorkerMirroredStrategy`` in Keras 3
(keras-team/keras#20585), so this is a custom loop: ``distribute`` and
``make_train_step`` are the two functions notebook 07 writes and runs in view.
"""

import tfpt  # noqa: F401  first: makes importing TensorFlow (after torch) safe

# isort: split
import argparse
import json
import os
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfpt.data import epoch_order


def distribute(strategy, dataset):
    """Split every global batch of ``dataset`` between the replicas, in replica order."""
    options = tf.data.Options()
    # DATA: every worker reads the whole dataset and keeps its part of each batch
    # (the default, FILE, shards by input files; ours come from memory).
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


def make_train_step(strategy, model, optimizer):
    """A compiled step: every replica trains on its part of a global batch; returns the global mean loss."""

    def step_fn(x, y, global_batch_size):  # runs once per replica, on that replica's images
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            per_example = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            # the sum over MY images / the images of the WHOLE global batch
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))  # sums all replicas' grads
        return loss

    @tf.function
    def train_step(batch, global_batch_size):
        per_replica = strategy.run(step_fn, args=(*batch, global_batch_size))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return train_step


def mlp() -> keras.Model:
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)])


def train(args: argparse.Namespace, strategy: tf.distribute.Strategy) -> None:
    resolver = getattr(strategy, "cluster_resolver", None)
    task = resolver.task_id if resolver else 0  # worker 0 is the chief
    say = print if task == 0 else (lambda *a, **k: None)
    if task == 0:
        args.out.mkdir(parents=True, exist_ok=True)
    gb = args.global_batch
    positions = next(iter(distribute(strategy, tf.data.Dataset.range(gb).batch(gb))))
    mine = [p.numpy() for p in strategy.experimental_local_results(positions)]
    print(f"worker {task}: positions {mine[0][0]}..{mine[-1][-1]} of every global batch", flush=True)

    data = np.load(args.data)
    x, y = tf.constant(data["x"]), tf.constant(data["y"])
    # The same global batches in every worker: tfpt's shuffled order, one epoch after another.
    epochs = -(-args.steps * gb // len(data["y"]))
    order = np.concatenate([epoch_order(len(data["y"]), args.seed, e) for e in range(epochs)])
    dataset = (tf.data.Dataset.from_tensor_slices(order[:args.steps * gb]).batch(gb)
               .map(lambda i: (tf.gather(x, i), tf.gather(y, i))))
    say(f"workers {strategy.num_replicas_in_sync}, {gb // strategy.num_replicas_in_sync} images "
        f"per worker per step, global batch {gb}", flush=True)

    keras.utils.set_random_seed(args.seed)
    start = mlp().get_weights()  # built outside the scope: the same numbers in every process
    with strategy.scope():  # variables created here are mirrored: one copy per replica
        model = mlp()
        model.set_weights(start)
        optimizer = keras.optimizers.SGD(args.lr)
    train_step = make_train_step(strategy, model, optimizer)

    losses, times = [], []
    for step, batch in enumerate(distribute(strategy, dataset), start=1):
        begin = time.perf_counter()
        losses.append(float(train_step(batch, gb)))  # float(): wait for the step to finish
        times.append(time.perf_counter() - begin)
        if step == 1 and task == 0:
            np.savez(args.out / "step1.npz", *model.get_weights())
    say(f"{len(losses)} steps, global-batch loss {losses[0]:.4f} -> {losses[-1]:.4f}", flush=True)
    if task == 0:  # one writer; the workers' weights are identical
        model.save(args.out / "model.keras")
        (args.out / "run.json").write_text(json.dumps({"workers": strategy.num_replicas_in_sync,
                                                       "losses": losses,
                                                       "step_ms": [t * 1e3 for t in times]}))
        say("the chief wrote model.keras, step1.npz and run.json", flush=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--global-batch", type=int, default=128, help="images per step, all workers")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse()
    if "TF_CONFIG" in os.environ:
        # Reads TF_CONFIG, starts this worker's server and waits until every worker is up.
        # A collective that waits longer than timeout_seconds for a lost worker raises.
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=60)
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    else:
        strategy = tf.distribute.get_strategy()  # no distribution: one replica, this process
    train(args, strategy)
