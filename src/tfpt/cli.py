"""The ``tfpt`` command line (also ``python -m tfpt``): ``doctor``, ``bench``, ``train``."""

from __future__ import annotations

import argparse
import sys


def _doctor(args: argparse.Namespace) -> int:
    from tfpt.doctor import doctor

    report = doctor()
    print(report.render())
    return 0 if report.ok else 1


def _bench(args: argparse.Namespace) -> int:
    from tfpt import bench

    frameworks = ("torch", "tf") if args.framework == "both" else (args.framework,)
    report = bench.run(steps=args.steps, batch_size=args.batch_size, repeats=args.repeats,
                       compile_=args.compile, xla=args.xla, frameworks=frameworks)
    print(bench.table(report))
    if args.out:
        print(f"wrote {bench.save(report, args.out)}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from tfpt.train.run import Config, train

    cfg = Config(**{k: v for k, v in vars(args).items() if k in Config.__dataclass_fields__})
    metrics = train(cfg)
    return 130 if metrics["interrupted"] else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tfpt", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="versions, devices, data and modes; exit 1 if broken"
                        ).set_defaults(func=_doctor)
    bench = commands.add_parser("bench", help="training images/s: tfpt loops vs idiomatic ones")
    bench.add_argument("--steps", type=int, default=50, help="training steps per timed epoch")
    bench.add_argument("--batch-size", type=int, default=128)
    bench.add_argument("--repeats", type=int, default=3, help="timed epochs per candidate")
    bench.add_argument("--framework", choices=("both", "torch", "tf"), default="both")
    bench.add_argument("--compile", action="store_true", help="also torch.compile")
    bench.add_argument("--xla", action="store_true", help="also TF jit_compile=True")
    bench.add_argument("--out", help="write the results as JSON here")
    bench.set_defaults(func=_bench)

    train = commands.add_parser("train", help="train a twin model; copy this to a GPU box")
    train.add_argument("--framework", choices=("torch", "tf"), default="torch")
    train.add_argument("--dataset", choices=("mnist", "cifar10"), default="mnist")
    train.add_argument("--model", help="MnistCNN, ConvBNNet, MLP or FastResNet "
                                       "(default: MnistCNN for mnist, FastResNet for cifar10)")
    train.add_argument("--width", type=int, help="FastResNet width (64 on a GPU, 16 on a CPU)")
    train.add_argument("--epochs", type=int, default=5)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--lr", type=float, default=3e-3, help="peak one-cycle learning rate (Adam)")
    train.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    train.add_argument("--amp", action="store_true", help="mixed precision (GPU only)")
    train.add_argument("--out", default="outputs/run", help="checkpoints, logs and metrics.json")
    train.add_argument("--resume", action="store_true", help="continue from OUT/last.*")
    train.add_argument("--stop-after", type=int,
                       help="stop after this many epochs of the schedule (resume later)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--deterministic", action="store_true")
    train.add_argument("--limit", type=int, help="use the first N training images")
    train.add_argument("--test-limit", type=int, help="use the first N test images")
    train.add_argument("--log-every", type=int, default=50,
                       help="steps between plain progress lines when output is not a terminal")
    train.set_defaults(func=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
