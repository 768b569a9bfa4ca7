"""CPU sizing from what the process may use: cgroup quota files faked under a temporary root, and
CPU affinity narrowed to one CPU with `taskset` in a subprocess."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gan_core import cpus
from gan_core.cpus import CPUs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def host_of_8(monkeypatch):
    monkeypatch.setattr(cpus, "_affinity", lambda: 8)   # a host bigger than any quota below


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


@pytest.mark.parametrize("cpu_max,expected", [
    ("max 100000\n", 8),        # no quota: affinity decides
    ("200000 100000\n", 2),     # 2 CPUs
    ("150000 100000\n", 1),     # 1.5 rounds down: a second thread would be throttled
    ("7800 100000\n", 1),       # Community Cloud's smallest share, 0.078 CPU: still one
    ("1600000 100000\n", 8),    # a quota above the affinity: affinity decides
    ("garbage\n", 8),           # unreadable: ignored
])
def test_cgroup_v2_quota(tmp_path, host_of_8, cpu_max, expected):
    write(tmp_path, "sys/fs/cgroup/cpu.max", cpu_max)
    assert cpus.usable(tmp_path).count == expected


def test_cgroup_v2_quota_on_a_parent_of_the_process_cgroup(tmp_path, host_of_8):
    write(tmp_path, "proc/self/cgroup", "0::/app.slice/studio.service\n")
    write(tmp_path, "sys/fs/cgroup/cpu.max", "max 100000\n")
    write(tmp_path, "sys/fs/cgroup/app.slice/cpu.max", "300000 100000\n")
    write(tmp_path, "sys/fs/cgroup/app.slice/studio.service/cpu.max", "max 100000\n")
    found = cpus.usable(tmp_path)
    assert found.count == 3 and "cgroup v2" in found.source


@pytest.mark.parametrize("quota,period,expected", [("-1", "100000", 8), ("300000", "100000", 3),
                                                   ("50000", "100000", 1), ("250000", "100000", 2)])
def test_cgroup_v1_quota(tmp_path, host_of_8, quota, period, expected):
    write(tmp_path, "proc/self/cgroup", "4:cpu,cpuacct:/docker/abc\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", quota + "\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", period + "\n")
    assert cpus.usable(tmp_path).count == expected


def test_no_cgroup_files_means_affinity(tmp_path, host_of_8):
    found = cpus.usable(tmp_path)
    assert found.count == 8 and "affinity" in found.source


def test_tightest_of_v1_and_v2(tmp_path, host_of_8):
    write(tmp_path, "sys/fs/cgroup/cpu.max", "400000 100000\n")
    write(tmp_path, "sys/fs/cgroup/cpu/cpu.cfs_quota_us", "200000\n")
    write(tmp_path, "sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n")
    assert cpus.usable(tmp_path).count == 2


@pytest.mark.parametrize("count,trainers,threads", [(1, 1, 1), (2, 2, 1), (3, 3, 1), (8, 8, 1), (64, 32, 2)])
def test_trainers_and_threads_share_the_cpus(count, trainers, threads):
    found = CPUs(count, "test")
    assert cpus.trainers_at_once(found) == trainers
    assert cpus.threads_each(trainers, cpus=found) == threads
    assert trainers * threads <= count   # never more torch threads than CPUs


@pytest.mark.parametrize("count,memory_mb,trainers", [(16, 80_000, 4), (2, 80_000, 2), (16, 1_000, 1),
                                                      (16, 300, 1), (1, 80_000, 1)])
def test_on_a_gpu_the_cap_follows_its_memory_and_the_cpus_feeding_it(count, memory_mb, trainers):
    assert cpus.trainers_at_once(CPUs(count, "test"), gpu_memory_mb=memory_mb) == trainers


def test_configured_threads_win(capsys):
    assert cpus.threads_each(2, threads=6, cpus=CPUs(1, "test")) == 6
    assert "torch threads each: 6 (as configured)" in capsys.readouterr().err


def sizing(*prefix: str, env: dict | None = None) -> subprocess.CompletedProcess:
    # CPUs seen, trainers at once, torch threads of a thread that does not train, of a run in a full house
    code = ("import torch; from gan_core import cpus, host; host.configure(); host.configure(); "
            "print(cpus.usable().count, host.limits().max_running, torch.get_num_threads(), "
            "host.fit_threads(host.limits().max_running))")
    return subprocess.run([*prefix, sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


needs_taskset = pytest.mark.skipif(shutil.which("taskset") is None or not hasattr(os, "sched_getaffinity")
                                   or 0 not in os.sched_getaffinity(0), reason="needs taskset and CPU 0")


@pytest.mark.slow   # a subprocess: the slow tier
@pytest.mark.untimed
@needs_taskset
def test_one_cpu_of_affinity_sizes_the_server_to_one():
    r = sizing("taskset", "-c", "0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "1", "1", "1"]
    said = [ln for ln in r.stderr.splitlines() if ln.startswith("gan_core:")]
    assert said == ["gan_core: CPUs usable: 1 (affinity, 1 of %d on the host); "
                    "trainers at once: 1; torch threads each: 1" % os.cpu_count()]   # once, not per configure()


@pytest.mark.slow   # a subprocess: the slow tier
@pytest.mark.untimed
@needs_taskset
def test_environment_overrides_the_sizing():
    r = sizing("taskset", "-c", "0", env={"GAN_STUDIO_MAX_RUNNING": "3", "GAN_STUDIO_THREADS": "2"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "3", "1", "2"]   # the configured threads are a trainer's


@pytest.mark.slow   # a subprocess: the slow tier
@pytest.mark.untimed
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts the process's threads in /proc")
def test_the_loader_leaves_no_openmp_threads_behind():
    # A live thread whose torch ran on two OpenMP threads keeps a team, and a trainer's two threads beside
    # it went from ~100 to ~70 steps/s (docs/performance.md). The loader imports torch and builds the first
    # model in a thread of its own, and its team's thread stayed after it ended (two threads counted here
    # before): now the process's threads are its Python threads and pyarrow's allocator thread, no more.
    code = "\n".join([
        "import os, threading, time",
        "from gan_core import preload",
        "loader = preload.Loader(); loader.start(); loader._thread.join(); time.sleep(0.5)",
        "def name(t):",
        "    try:",
        "        return open(f'/proc/self/task/{t}/comm').read().strip()",
        "    except OSError:",
        "        return None",                    # a thread that ended as it was counted
        "names = [n for n in map(name, os.listdir('/proc/self/task')) if n not in (None, 'jemalloc_bg_thd')]",
        "print(len(names), len(threading.enumerate()))"])
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    threads, python_threads = map(int, r.stdout.split())
    assert (threads, python_threads) == (1, 1)


@pytest.mark.parametrize("count,running,threads", [(2, 1, 2), (2, 2, 1), (2, 3, 1), (8, 3, 2), (1, 1, 1)])
def test_the_runs_training_now_share_the_cpus(count, running, threads):
    assert cpus.threads_now(running, cpus=CPUs(count, "test")) == threads
    assert cpus.threads_now(running, threads=5, cpus=CPUs(count, "test")) == 5     # as configured


def test_a_run_alone_trains_on_every_cpu_and_two_share_them(monkeypatch, digits):
    # the worker's own torch threads (OpenMP keeps the count per thread), read between two steps
    from gan_core import host
    from gan_core.config import ModelSpec
    from gan_core.scheduler import Scheduler
    from gan_core.session import TrainingSession
    monkeypatch.setattr(host.limits(), "threads", 0)
    monkeypatch.setattr(host, "_usable", CPUs(2, "test"))
    monkeypatch.setattr(host, "_elsewhere", lambda: 0.0)        # a quiet host, whatever runs beside the test
    sched = Scheduler(2)
    a = TrainingSession(ModelSpec(arch="mlp", conditional=False), scheduler=sched)
    threads = lambda s: s.call(lambda t: torch.get_num_threads())    # noqa: E731
    a.start()
    assert a.wait_for_step(a.step + 2, timeout=30)
    assert threads(a) == 2 and torch.get_num_threads() == 1     # the test's thread keeps its own
    b = TrainingSession(ModelSpec(arch="mlp", conditional=False), scheduler=sched)
    b.start()
    assert b.wait_for_step(b.step + 2, timeout=30) and a.wait_for_step(a.step + 2, timeout=30)
    assert threads(a) == 1 and threads(b) == 1                  # two runs: one CPU each
    b.pause()
    assert a.wait_for_step(a.step + 2, timeout=30)
    assert threads(a) == 2                                      # alone again: both


@pytest.mark.parametrize("elsewhere,on_2,on_8", [(0.0, 2, 8), (0.4, 2, 8), (0.6, 1, 7), (1.0, 1, 7), (3.0, 1, 5)])
def test_a_busy_host_keeps_a_lone_run_to_the_cpus_left_free(elsewhere, on_2, on_8):
    # beside a process busy on one of 2 cores, two threads gave 0.4-0.85x of one (cpus.threads_now)
    assert cpus.threads_now(1, cpus=CPUs(2, "test"), elsewhere=elsewhere) == on_2
    assert cpus.threads_now(1, cpus=CPUs(8, "test"), elsewhere=elsewhere) == on_8
    assert cpus.threads_now(2, cpus=CPUs(8, "test"), elsewhere=elsewhere) == on_8 // 2


def test_the_cpu_used_elsewhere_is_the_host_s_busy_time_less_this_process_s():
    hz, now = cpus._HZ, [0.0]
    ticks = iter([(1000, 300), (1000 + 3 * hz, 300 + 1 * hz), (1000 + 5 * hz, 300 + 3 * hz)])
    e = cpus.Elsewhere(every=2.0, read=lambda: next(ticks), clock=lambda: now[0])
    assert e() == 0.0                       # the first reading: nothing to compare with yet
    now[0] = 1.0
    assert e() == 0.0                       # within `every`: not read again
    now[0] = 2.0
    assert e() == pytest.approx(1.0)        # 3 cores' seconds busy, 1 of them ours, over 2 s: 1 core elsewhere
    now[0] = 4.0
    assert e() == pytest.approx(0.0)        # 2 more busy, all ours
    assert cpus.Elsewhere(read=lambda: None)() == 0.0      # no /proc: nothing known, nothing held back
