"""requirements.txt gives exactly one torch requirement on every platform and Python that torch 2.13.0
has wheels for, worked out with the same marker evaluation pip and uv use (packaging.markers).

The matrix is PyPI's list of torch 2.13.0 wheels: CPython 3.10 to 3.14 (and 3.14t) for macOS arm64,
Windows x86_64, Linux x86_64 and Linux aarch64. There are none for macOS x86_64 or Windows arm64;
those get the same single line, which pip answers with "no matching distribution".
"""
import itertools
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
CLOUD_CPU_WHEEL = "https://download.pytorch.org/whl/cpu/torch-2.13.0%2Bcpu-cp{v}-cp{v}-manylinux_2_28_x86_64.whl"

# (sys_platform, platform_system, platform_machine) as each platform's Python reports them
PLATFORMS = {
    "macOS arm64": ("darwin", "Darwin", "arm64"),
    "macOS x86_64 (no wheel)": ("darwin", "Darwin", "x86_64"),
    "Windows x86_64": ("win32", "Windows", "AMD64"),
    "Windows arm64 (no wheel)": ("win32", "Windows", "ARM64"),
    "Linux x86_64": ("linux", "Linux", "x86_64"),
    "Linux aarch64": ("linux", "Linux", "aarch64"),
}
PYTHONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]


def requirements(path: Path = ROOT / "requirements.txt") -> list[Requirement]:
    lines = [ln.split(" #")[0].strip() for ln in path.read_text().splitlines()]
    return [Requirement(ln) for ln in lines if ln and not ln.startswith(("#", "-"))]


def torch_lines(path: Path = ROOT / "requirements.txt") -> list[Requirement]:
    return [r for r in requirements(path) if r.name == "torch"]


def environment(platform: str, python: str) -> dict[str, str]:
    sys_platform, system, machine = PLATFORMS[platform]
    return {"sys_platform": sys_platform, "platform_system": system, "platform_machine": machine,
            "os_name": "nt" if system == "Windows" else "posix", "python_version": python,
            "python_full_version": python + ".1", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "platform_release": "", "platform_version": "",
            "extra": ""}


def applying(platform: str, python: str) -> list[Requirement]:
    env = environment(platform, python)
    return [r for r in torch_lines() if r.marker is None or r.marker.evaluate(env)]


@pytest.mark.parametrize("platform,python", itertools.product(PLATFORMS, PYTHONS))
def test_exactly_one_torch_line_applies(platform, python):
    got = applying(platform, python)
    assert len(got) == 1, f"{platform}, Python {python}: {len(got)} torch lines apply: {[str(r) for r in got]}"
    req = got[0]
    assert req.url or str(req.specifier) == "==2.13.0", str(req)


@pytest.mark.parametrize("python", ["3.12", "3.13"])
def test_community_cloud_gets_the_cpu_wheel(python):
    (req,) = applying("Linux x86_64", python)
    assert req.url == CLOUD_CPU_WHEEL.format(v=python.replace(".", ""))


def test_these_machines_get_the_pin_that_finds_the_local_build():
    # Python 3.11 on x86_64 Linux: pip takes torch-2.13.0+cpu from its find-links folder
    (req,) = applying("Linux x86_64", "3.11")
    assert req.url is None and str(req.specifier) == "==2.13.0"


def test_dev_requirements_include_the_app_requirements():
    dev = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements.txt" in dev


@pytest.mark.parametrize("platform,python", itertools.product(PLATFORMS, PYTHONS))
def test_uvloop_everywhere_but_windows_where_it_has_no_build(platform, python):
    env = environment(platform, python)
    (req,) = [r for r in requirements() if r.name == "uvloop"]
    assert req.marker.evaluate(env) == (PLATFORMS[platform][0] != "win32")
