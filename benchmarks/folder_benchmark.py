"""Benchmark: decoding a folder of small images once (see README.md here).

    python benchmarks/folder_benchmark.py [--per-class 1000] [--size 32] [--repeats 3]

Draws a generated colour folder (10 classes of ``per_class`` PNGs, ``genaug.toyfolder``) in a
temporary folder, then times ``load_dataset("folder", ...)`` reading it into tensors: the first
read lists and decodes every file and saves the test split; each repeat clears the in-process
cache and decodes again, as a new process would, with the files already in the OS cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GENAUG_CACHE"] = str(Path(tmp) / ".cache")  # the split goes here, not ~
        from genaug import folder
        from genaug.data import load_dataset
        from genaug.toyfolder import make_shapes_folder

        start = time.perf_counter()
        root = make_shapes_folder(Path(tmp) / "shapes", per_class=args.per_class, size=args.size)
        print(f"drew {10 * args.per_class} PNGs in {time.perf_counter() - start:.1f} s")
        times = []
        for _ in range(1 + args.repeats):
            folder._decode.cache_clear()  # what a new process would do
            start = time.perf_counter()
            train = load_dataset("folder", "train", root=root, size=args.size)
            times.append(time.perf_counter() - start)
        n = len(train) + len(load_dataset("folder", "test", root=root, size=args.size))
        print(f"first read (list, decode, save the split): {times[0]:.2f} s for {n} images")
        rest = times[1:]
        print(f"later reads: {statistics.mean(rest):.2f} s (sd {statistics.pstdev(rest):.2f}), "
              f"{n / statistics.mean(rest):,.0f} images/s")


if __name__ == "__main__":
    main()
