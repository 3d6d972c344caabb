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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
