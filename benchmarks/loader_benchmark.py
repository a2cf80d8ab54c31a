"""Benchmark: genaug's on-device pipeline vs a tutorial-style DataLoader (see README.md here).

    python benchmarks/loader_benchmark.py [--steps 200] [--dataset fashion_mnist]

The same as ``python -m genaug benchmark``; the figures go into benchmarks/README.md.
"""

import sys

from genaug.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]]))
