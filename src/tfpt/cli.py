"""The ``tfpt`` command line (also ``python -m tfpt``): ``doctor``, ``bench``, ``train``.

Bad input gets one line, ``tfpt <command>: error: ...``, and exit status 2, without
a traceback; tracebacks are kept for real bugs.
"""

from __future__ import annotations

import argparse
import sys


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block): ``tfpt train: error: ...``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _doctor(args: argparse.Namespace) -> int:
    from tfpt.doctor import doctor

    report = doctor()
    print(report.render())
    return 0 if report.ok else 1


def _bench(args: argparse.Namespace) -> int:
    from tfpt import bench
    from tfpt.errors import UsageError

    if args.out:
        bench.check_out(args.out)  # before the benchmark runs, not after
    frameworks = ("torch", "tf") if args.framework == "both" else (args.framework,)
    sections = ("loader",) if args.loader else tuple(args.sections.split(","))
    unknown = (set(sections) - set(bench.SECTIONS)) | (set(args.models.split(",")) - set(bench.MODELS))
    if unknown:
        raise UsageError(f"--sections/--models: unknown {', '.join(sorted(unknown))}; choose from "
                         f"{', '.join(bench.SECTIONS)} and {', '.join(bench.MODELS)}")
    report = bench.run(steps=args.steps, batch_size=args.batch_size, repeats=args.repeats,
                       compile_=args.compile, xla=args.xla, frameworks=frameworks,
                       sections=sections, width=args.width, models=tuple(args.models.split(",")))
    print(bench.table(report))
    if args.out:
        print(f"wrote {bench.save(report, args.out)}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from tfpt.app import Config, train

    cfg = Config(**{k: v for k, v in vars(args).items() if k in Config.__dataclass_fields__})
    metrics = train(cfg)
    return 130 if metrics["interrupted"] else 0


def build_parser() -> Parser:
    parser = Parser(prog="tfpt", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    commands.add_parser("doctor", help="versions, devices, data and modes; exit 1 if broken"
                        ).set_defaults(func=_doctor)
    bench = commands.add_parser("bench", help="training images/s: tfpt loops vs idiomatic ones")
    bench.add_argument("--steps", type=_positive_int, default=50,
                       help="training steps per timed epoch")
    bench.add_argument("--batch-size", type=_positive_int, default=128)
    bench.add_argument("--repeats", type=_positive_int, default=3,
                       help="timed epochs per candidate")
    bench.add_argument("--framework", choices=("both", "torch", "tf"), default="both")
    bench.add_argument("--sections", default="loops,modes",
                       help="comma-separated: loops (tfpt's loops vs minimal ones), modes "
                            "(eager vs graph modes, MnistCNN and FastResNet), loader")
    bench.add_argument("--loader", action="store_true",
                       help="only the input pipelines (same as --sections loader)")
    bench.add_argument("--width", type=_positive_int, default=16, help="FastResNet width")
    bench.add_argument("--models", default="MnistCNN,FastResNet",
                       help="comma-separated models for the modes section")
    bench.add_argument("--compile", action="store_true", help="also torch.compile (modes)")
    bench.add_argument("--xla", action="store_true", help="also TF jit_compile=True (modes)")
    bench.add_argument("--out", help="write the results as JSON here")
    bench.set_defaults(func=_bench)

    train = commands.add_parser("train", help="train a twin model; copy this to a GPU box")
    train.add_argument("--framework", choices=("torch", "tf"), default="torch")
    train.add_argument("--dataset", choices=("mnist", "cifar10"), default="mnist")
    train.add_argument("--model", choices=("MnistCNN", "ConvBNNet", "MLP", "FastResNet"),
                       help="default: MnistCNN for mnist, FastResNet for cifar10")
    train.add_argument("--width", type=_positive_int,
                       help="FastResNet width (64 on a GPU, 16 on a CPU)")
    train.add_argument("--epochs", type=_positive_int, default=5)
    train.add_argument("--batch-size", type=_positive_int, default=128)
    train.add_argument("--lr", type=_positive_float, default=3e-3,
                       help="peak one-cycle learning rate (Adam)")
    train.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    train.add_argument("--amp", action="store_true",
                       help="mixed precision: float16 on a GPU, bfloat16 on a CPU")
    train.add_argument("--data-on-device", action="store_true",
                       help="keep the uint8 data on the device and augment whole batches there")
    train.add_argument("--channels-last", action="store_true",
                       help="PyTorch: channels-last memory format for convolutions")
    train.add_argument("--compile", action="store_true",
                       help="torch.compile (PyTorch) or XLA, jit_compile=True (TensorFlow)")
    train.add_argument("--fast", action="store_true",
                       help="all of --data-on-device --channels-last --amp --compile")
    train.add_argument("--out", default="outputs/run", help="checkpoints, logs and metrics.json")
    train.add_argument("--resume", action="store_true", help="continue from OUT/last.*")
    train.add_argument("--stop-after", type=_positive_int,
                       help="stop after this many epochs of the schedule (resume later)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--deterministic", action="store_true")
    train.add_argument("--limit", type=_positive_int, help="use the first N training images")
    train.add_argument("--val-limit", type=_positive_int,
                       help="use the first N validation images")
    train.add_argument("--test-limit", type=_positive_int, help="use the first N test images")
    train.add_argument("--log-every", type=_positive_int, default=50,
                       help="steps between plain progress lines when output is not a terminal")
    train.add_argument("--nproc", type=_positive_int, default=1,
                       help="data-parallel worker processes on this machine, each with its slice "
                            "of every --batch-size images (notebook 07): DDP for torch (gloo on "
                            "CPUs, NCCL on GPUs; same as `torchrun --nproc_per_node N -m tfpt "
                            "train`); for tf, MultiWorkerMirroredStrategy workers with a "
                            "strategy.run loop (Keras fit fails under that strategy in Keras 3, "
                            "keras-team/keras#20585). Rank 0 prints and writes OUT; "
                            "OUT/logs/rank<r>.log keeps each rank's output")
    train.add_argument("--timeout", type=_positive_float, default=120.0,
                       help="with --nproc: seconds a worker waits for a missing one before "
                            "the run fails")
    train.set_defaults(func=_train)
    from tfpt.export import add_parser as add_export  # tfpt export (notebook 08)

    add_export(commands)
    parser.commands = commands.choices  # name -> its parser: errors found later name the command
    return parser


def _known_errors() -> tuple[type[Exception], ...]:
    """Errors that mean bad input, a bad file or a fault: shown as one line, not a traceback."""
    from tfpt.checkpoint import CheckpointError
    from tfpt.data import ChecksumError, DataFormatError, MissingDataError, UnknownDatasetError
    from tfpt.distributed import WorkerFailed
    from tfpt.errors import TfptError

    return (TfptError, CheckpointError, MissingDataError, ChecksumError, DataFormatError,
            UnknownDatasetError, WorkerFailed)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # `tfpt train: error: unrecognized arguments: ...`, not `tfpt: error: ...`
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.func(args)
    except _known_errors() as err:
        print(f"tfpt {args.command}: error: {err}", file=sys.stderr)
        return getattr(err, "exit_code", 2)  # a dead worker: 1
    except KeyboardInterrupt:  # before or between epochs: nothing half-written stays
        print(f"tfpt {args.command}: interrupted; nothing half-written was left behind",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
