"""Run a benchmark's measurement in a fresh Python process, so tools share no imports or caches.

The script calls itself with ``--worker '<json spec>'``; the child runs one worker function and
prints its measurements as JSON on the last line of its output.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Mapping


class WorkerFailed(RuntimeError):
    """A worker process exited with an error; the message ends with its standard error."""


def run_worker(script: str, spec: dict, environment: Mapping[str, str] | None = None) -> dict:
    """Run ``script --worker SPEC`` in a new interpreter and return the worker's JSON result."""
    completed = subprocess.run([sys.executable, script, "--worker", json.dumps(spec)], capture_output=True,
                               text=True, check=False, env=environment)
    if completed.returncode != 0:
        raise WorkerFailed(f"worker {spec} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def serve_worker(spec: str, workers: Mapping[str, Callable[..., dict]]) -> None:
    """In the child: run ``workers[kind](**kwargs)`` of the JSON spec and print its result."""
    request = json.loads(spec)
    print(json.dumps(workers[request["kind"]](**request["kwargs"])))


def parse_or_serve(parser: argparse.ArgumentParser, workers: Mapping[str, Callable[..., dict]]) -> argparse.Namespace:
    """Parse the benchmark's arguments; in a child started by :func:`run_worker`, serve and exit."""
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        serve_worker(arguments.worker, workers)
        sys.exit(0)
    return arguments
