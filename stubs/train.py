"""The stub trainer: a stub model whose accuracy is a known smooth function of lr and depth.

    accuracy_for(lr, depth) = round(FLOOR + (BEST_ACCURACY - FLOOR) * exp(-(x*x + y*y)), 6)
        x = log10(lr / 0.01) / LR_WIDTH        (LR_WIDTH = 1: one decade)
        y = (depth - 6) / DEPTH_WIDTH          (DEPTH_WIDTH = 4)

with FLOOR = 0.5, one maximum at OPTIMUM = {lr: 0.01, depth: 6} worth BEST_ACCURACY = 0.95,
and nothing else stationary. Examples: (0.01, 6) -> 0.95; (0.1, 6) -> 0.665546;
(0.01, 10) -> 0.665546; (0.001, 2) -> 0.560901.

Per epoch it prints Katib StdOut metrics, `epoch=E accuracy=A loss=L`, with
A_e = FLOOR + (final - FLOOR) * (1 - 2^-e) / (1 - 2^-E) (so the last epoch is the final accuracy)
and L_e = 1 - A_e. Fault knobs: --fail-after-epoch K exits 1 after epoch K without writing a
model (K must be 0..E: a knob that could never fire is refused with exit 2); --sleep-ms M
sleeps M ms per epoch.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

from stubs import dataset
from stubs import model as models
from stubs.errors import BadStubInput, StubError, StubFault

OPTIMUM: dict[str, float] = {"lr": 0.01, "depth": 6}
BEST_ACCURACY = 0.95
FLOOR = 0.5
LR_WIDTH = 1.0
DEPTH_WIDTH = 4.0
DEFAULT_EPOCHS = 5
MAX_DEPTH = 64
MAX_EPOCHS = 1000
# The per-epoch sleep of --sleep-ms, looked up at call time so tests can record the durations.
_sleep = time.sleep


def _check(lr: float, depth: int, epochs: int = DEFAULT_EPOCHS) -> None:
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not math.isfinite(lr) or lr <= 0:
        raise BadStubInput(f"lr={lr!r} is invalid: use a finite number > 0, like 0.01")
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise BadStubInput(f"depth={depth!r} is invalid: use an integer 1..{MAX_DEPTH}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= MAX_EPOCHS:
        raise BadStubInput(f"epochs={epochs!r} is invalid: use an integer 1..{MAX_EPOCHS}")


def accuracy_for(lr: float, depth: int) -> float:
    """The final accuracy of a model trained with (lr, depth), rounded to 6 decimals."""
    _check(lr, depth)
    x = math.log10(lr / float(OPTIMUM["lr"])) / LR_WIDTH
    y = (depth - OPTIMUM["depth"]) / DEPTH_WIDTH
    return round(FLOOR + (BEST_ACCURACY - FLOOR) * math.exp(-(x * x + y * y)), 6)


def epoch_metrics(lr: float, depth: int, epochs: int = DEFAULT_EPOCHS) -> list[tuple[int, float, float]]:
    """(epoch, accuracy, loss) per epoch; accuracy rises to `accuracy_for(lr, depth)` at the end."""
    _check(lr, depth, epochs)
    final = accuracy_for(lr, depth)
    result = []
    for epoch in range(1, epochs + 1):
        share = (1 - 2.0**-epoch) / (1 - 2.0**-epochs)
        accuracy = final if epoch == epochs else round(FLOOR + (final - FLOOR) * share, 6)
        result.append((epoch, accuracy, round(1 - accuracy, 6)))
    return result


def train(
    lr: float,
    depth: int,
    epochs: int = DEFAULT_EPOCHS,
    name: str = "stub",
    version: str = "1",
) -> dict[str, Any]:
    """The artifact a training run with these hyperparameters produces."""
    _check(lr, depth, epochs)
    return models.create(name, version, accuracy_for(lr, depth))


def format_metrics(epoch: int, accuracy: float, loss: float) -> str:
    """One line in Katib's StdOut TEXT format (name=value pairs)."""
    return f"epoch={epoch} accuracy={accuracy:.6f} loss={loss:.6f}"


def _depth(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stubs.train",
        description="Train a stub model: accuracy is a known function of --lr and --depth.",
    )
    parser.add_argument("--lr", required=True, type=float, help="learning rate > 0 (best 0.01)")
    parser.add_argument("--depth", required=True, type=_depth, help=f"1..{MAX_DEPTH} (best 6)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--data", required=True, help="stub dataset CSV: path or s3://bucket/key")
    parser.add_argument("--out", required=True, help="where to write the model artifact")
    parser.add_argument("--name", default="stub", help="model name (a DNS label)")
    parser.add_argument("--version", default="1")
    parser.add_argument(
        "--fail-after-epoch",
        type=int,
        default=None,
        metavar="K",
        help="fault knob: exit 1 after epoch K, writing no model",
    )
    parser.add_argument("--sleep-ms", type=int, default=0, help="fault knob: sleep per epoch")
    parser.add_argument("--run-dir", default=None, help="ignored: lets the appliance find its processes")
    args = parser.parse_args(argv)
    try:
        if args.sleep_ms < 0:
            raise BadStubInput(f"--sleep-ms={args.sleep_ms} is invalid: use an integer >= 0")
        if args.fail_after_epoch is not None and args.fail_after_epoch < 0:
            raise BadStubInput(f"--fail-after-epoch={args.fail_after_epoch}: use an integer >= 0")
        artifact = train(args.lr, args.depth, args.epochs, args.name, args.version)
        if args.fail_after_epoch is not None and args.fail_after_epoch > args.epochs:
            # It would never fire: the run would succeed while the caller expects a failure.
            raise BadStubInput(
                f"--fail-after-epoch={args.fail_after_epoch} is after the last epoch "
                f"(--epochs={args.epochs}): use 0..{args.epochs}"
            )
        rows = dataset.read(args.data)  # a trial that cannot read its data must fail, not guess
        print(f"training on {len(rows)} rows from {args.data}", file=sys.stderr)
        if args.fail_after_epoch == 0:
            raise StubFault("--fail-after-epoch=0: failing before the first epoch")
        for epoch, accuracy, loss in epoch_metrics(args.lr, args.depth, args.epochs):
            if args.sleep_ms:
                _sleep(args.sleep_ms / 1000)
            print(format_metrics(epoch, accuracy, loss), flush=True)
            if args.fail_after_epoch == epoch:
                raise StubFault(f"--fail-after-epoch={epoch}: failing after epoch {epoch}")
        models.save(artifact, args.out)
        print(f"wrote model {args.name} version {args.version} to {args.out}", file=sys.stderr)
    except StubError as exc:
        return exc.report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
