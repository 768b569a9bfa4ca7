"""Gives every Python thread of a process started with this folder on PYTHONPATH its name in the OS
(/proc/<pid>/task/<tid>/comm, 15 bytes), so benchmarks/viewers.py can tell the server's threads from
the trainer's from outside. Python 3.11 leaves every thread named after the program. Benchmark use only."""
import ctypes
import threading

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_NAME = 15
_bootstrap = threading.Thread._bootstrap_inner


def _named(self):
    # threads the trainer's thread starts itself (OpenMP's) inherit its name
    _libc.prctl(_PR_SET_NAME, self.name.encode()[:15], 0, 0, 0)
    _bootstrap(self)


threading.Thread._bootstrap_inner = _named
