"""A tiny trial for the tuning tests: prints and writes exactly what it is told, then exits."""

import argparse
import json
import os
import subprocess
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--print", dest="lines", action="append", default=[],
                        help="a line for stdout ('|' separates several)")
    parser.add_argument("--file", help="a metrics file to write --file-line lines to")
    parser.add_argument("--file-line", action="append", default=[])
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds before exiting")
    parser.add_argument("--sleep-per-line", type=float, default=0.0)
    parser.add_argument("--exit", type=int, default=0)
    parser.add_argument("--fail-first-attempt", action="store_true",
                        help="exit 1 unless a marker from an earlier attempt exists in the cwd")
    parser.add_argument("--record", help="write argv, env and cwd facts to this JSON file")
    parser.add_argument("--spawn-sleeper", help="start a grandchild `sleep 60`, write pids here")
    args, _ = parser.parse_known_args()  # other flags (--tag=...) only carry placeholders
    if args.record:
        with open(args.record, "w") as handle:
            json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(),
                       "trial": os.environ.get("KATIB_TRIAL_NAME"),
                       "env": {k: v for k, v in os.environ.items()
                               if k.startswith("TUNE_") or k == "AWS_ENDPOINT_URL"}},
                      handle)
    if args.spawn_sleeper:
        child = subprocess.Popen(["sleep", "60"])
        with open(args.spawn_sleeper, "w") as handle:
            json.dump({"trial": os.getpid(), "sleeper": child.pid}, handle)
    if args.fail_first_attempt:
        if not os.path.exists("attempted"):
            open("attempted", "w").close()
            print("first attempt fails", flush=True)
            return 1
    lines = [part for line in args.lines for part in line.split("|")]
    for line in lines:
        print(line, flush=True)
        if args.sleep_per_line:
            time.sleep(args.sleep_per_line)
    if args.file:
        with open(args.file, "w") as handle:
            for line in args.file_line:
                handle.write(line + "\n")
                handle.flush()
                if args.sleep_per_line:
                    time.sleep(args.sleep_per_line)
    time.sleep(args.sleep)
    return args.exit


if __name__ == "__main__":
    sys.exit(main())
