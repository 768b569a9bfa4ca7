"""Run by torchrun from test_distributed.py: join the group as the CLI does, train a step, leave it,
and print the threads still alive in this process (Linux: /proc/self/task/*/comm)."""
import sys
from pathlib import Path

from gan_core import __main__ as cli
from gan_core import data
from gan_core.config import ModelSpec
from gan_core.trainer import Trainer

rank = cli._init_distributed("cpu")
t = Trainer(ModelSpec(arch="mlp", device="cpu"), digits=data.load("bundled")[0])
t.step()
cli.replica_difference(t)
cli._leave_distributed()
threads = sorted(p.read_text().strip() for p in Path("/proc/self/task").glob("*/comm"))
sys.stdout.write(f"rank {rank} threads after leaving: {' '.join(threads)}\n")   # one write: ranks share stdout
sys.stdout.flush()
