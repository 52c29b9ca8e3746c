"""Leaving a delta-rs helper once its answer is out.

delta-rs (deltalake 1.x) can abort in its runtime's teardown at interpreter exit under load
("terminate called without an active exception"), after the answer was printed; the answer is
complete once flushed, so the helpers leave without the interpreter's teardown.
"""
import os
import sys


def exit_after_flush() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
