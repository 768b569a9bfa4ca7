#!/usr/bin/env bash
# Install everything the test suite needs, then run it under each tested Python: the global python3
# (3.11, with the local CPU build of torch) runs every tier; Python 3.12, in a venv of its own (below),
# the fast tier. Debian's chromium (and nginx) are installed for the browser tests (the playwright
# package drives /usr/bin/chromium; it never downloads one). Arguments go to pytest in every run.
#
# The order, and what runs beside what:
# 1. the 3.11 fast tier, in two processes (pytest-xdist, -n 2, an idle process taking work from the
#    busy one): its tests share nothing but the CPUs;
# 2. the slow tests marked `untimed` (subprocesses whose output, exit status or memory is checked,
#    never a speed), two at a time, a file to a process (a module's fixture, such as the upload probe,
#    then runs once), and beside them the 3.12 fast tier, its output printed after: none of these
#    times anything, and the untimed tests leave a core idle a fifth of their time;
# 3. the rest of the slow and browser tiers, which time training and drive servers: alone.
#
# Python 3.12 gets PyPI's torch==2.13.0 (the CUDA build, 2.13.0+cu130, with its nvidia-* packages:
# about 3 GB, 4.7 GB installed, 2 min 39 s here; it runs on the CPU when there is no GPU). The CPU
# wheel that requirements.txt names for 3.12 lives on download.pytorch.org, which CI cannot reach, and the
# CUDA wheel does not import without the nvidia libraries (libcudnn.so.9), so this is the honest way.
# The 3.12 venv lives outside the checkout, in ${GAN_STUDIO_VENVS:-~/.cache/gan-studio}/venv-3.12-<key>,
# the key a hash of the Python's version and of everything installed into it (requirements.txt,
# requirements-dev.txt, the recipe below): a fresh machine or a changed requirement builds it (in the
# background while the 3.11 fast tier runs); a later run or another clone of the same requirements
# uses it as it is (building it took 3 min of CPU beside the fast tier, each clone 4.7 GB).
# GAN_STUDIO_TEST_PYTHONS="3.11" runs only the first.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHONS=${GAN_STUDIO_TEST_PYTHONS:-3.11 3.12}

find_python() {   # python3 on PATH when it is that version, else python3.X on PATH or under pyenv
  local v=$1 p
  for p in python3 "python$v" "$HOME"/.pyenv/versions/"$v"*/bin/python"$v"; do
    # (a pyenv shim of a version not selected exits with a complaint: the next candidate is tried)
    if command -v "$p" >/dev/null && [ "$("$p" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$v" ]; then
      command -v "$p"; return
    fi
  done
  echo "scripts/test.sh: no Python $v found (install it, e.g. with pyenv, or set GAN_STUDIO_TEST_PYTHONS)" >&2
  return 1
}

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# Debian's nginx for the replica test, which runs its own nginx on a free port as a child process;
# where installing starts the packaged service (port 80), it is stopped again: the tests never use it
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx >/dev/null
  $SUDO invoke-rc.d nginx stop >/dev/null 2>&1 || true
fi
# a Chinese font, so the screenshots of the Chinese page show characters, not empty boxes
if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh)" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-wqy-zenhei >/dev/null 2>&1 || {
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-wqy-zenhei >/dev/null
  }
fi

VENVS=${GAN_STUDIO_VENVS:-${XDG_CACHE_HOME:-$HOME/.cache}/gan-studio}
venv_of() {   # the venv for Python $1 (interpreter $2): named by what goes into it
  local key
  key=$({ "$2" -c 'import sys; print(sys.version)'; cat requirements.txt requirements-dev.txt
          declare -f build_venv; } | "$2" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')
  echo "$VENVS/venv-$1-$key"
}
build_venv() {   # venv $1 for interpreter $2, unless built: PyPI's torch first, then the rest but torch
  local venv=$1 py=$2 old
  [ -e "$venv/.built" ] && { echo "reused $venv"; return; }
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  # --no-compile: no .pyc for all of torch's files up front (33 s of CPU beside the fast tier); Python
  # compiles the modules the tests import, once, when they first do
  "$venv/bin/python" -m pip install --quiet --no-compile torch==2.13.0
  grep -hv -e '^torch' -e '^-r' requirements.txt requirements-dev.txt > "$venv/requirements-but-torch.txt"
  "$venv/bin/python" -m pip install --quiet --no-compile -r "$venv/requirements-but-torch.txt"
  "$venv/bin/python" -c 'import torch, streamlit, pytest, playwright'   # whole, not half-installed
  touch "$venv/.built"
  # the same Python's venvs for other requirements (4.7 GB each), each unless a run holds its lock
  command -v flock >/dev/null || return 0
  for old in "${venv%-*}"-*/; do
    old=${old%/}
    [ "$old" = "$venv" ] || [ ! -d "$old" ] && continue
    flock -n "$old.lock" rm -rf "$old" "$old.build" || true
  done
}

status=0
# the other Pythons' venvs are built while the 3.11 fast tier runs (a download and unpacking, mostly
# waiting on the network and the disk), and are ready before the timed slow tier starts
declare -A builds=() built=() venvs=() logs=()
for v in $PYTHONS; do
  if [ "$v" != 3.11 ]; then
    py=$(find_python "$v")
    venvs[$v]=$(venv_of "$v" "$py")
    mkdir -p "${venvs[$v]}"
    # with flock, where there is one: this run holds its venv's lock shared until it ends, so another
    # run's pruning passes it by, and one run at a time builds a venv (the others wait for it)
    if command -v flock >/dev/null; then exec {fd}>>"${venvs[$v]}.lock"; flock -s "$fd"; fi
    logs[$v]=$(mktemp)    # this run's own log of the build
    lock=(); command -v flock >/dev/null && lock=(flock "${venvs[$v]}.build")
    ${lock[@]+"${lock[@]}"} bash -c "set -euo pipefail; $(declare -f build_venv); build_venv \"\$1\" \"\$2\"" \
      _ "${venvs[$v]}" "$py" > "${logs[$v]}" 2>&1 &
    builds[$v]=$!
  fi
done
wait_for_venv() {   # once per build: its exit status, and its log on failure
  local v=$1
  if [ -z "${built[$v]:-}" ]; then
    if wait "${builds[$v]}"; then built[$v]=ok; else
      built[$v]=failed
      echo "scripts/test.sh: building ${venvs[$v]} failed:" >&2; cat "${logs[$v]}" >&2
    fi
  fi
  [ "${built[$v]}" = ok ]
}

fast_tier_in_venv() {   # the fast tier under Python $1, in its venv; pytest's exit status
  local venv=${venvs[$1]}
  echo "== Python $1: $venv/bin/python -m pytest -n 2 --dist worksteal -m 'not slow and not browser' ${*:2}"
  "$venv/bin/python" -m pytest -n 2 --dist worksteal -m "not slow and not browser" "${@:2}"
}

others=()
for v in $PYTHONS; do [ "$v" = 3.11 ] || others+=("$v"); done
if [[ " $PYTHONS " == *" 3.11 "* ]]; then
  py=$(find_python 3.11)
  "$py" -m pip install --quiet -r requirements-dev.txt
  echo "== Python 3.11: $py -m pytest -n 2 --dist worksteal -m 'not slow and not browser' $*"
  "$py" -m pytest -n 2 --dist worksteal -m "not slow and not browser" "$@" || status=$?
  # the other Pythons' fast tiers run beside the untimed slow tests: both take a loaded machine, and
  # neither times anything (their output is kept apart and printed after); the rest of the slow tier,
  # which does, runs once they are done
  declare -A jobs=() outs=()
  for v in ${others[@]+"${others[@]}"}; do
    if wait_for_venv "$v"; then
      outs[$v]=$(mktemp)
      fast_tier_in_venv "$v" "$@" > "${outs[$v]}" 2>&1 &
      jobs[$v]=$!
    else
      status=1
    fi
  done
  echo "== Python 3.11: $py -m pytest -n 2 --dist loadfile -m '(slow or browser) and untimed' $*"
  "$py" -m pytest -n 2 --dist loadfile -m "(slow or browser) and untimed" "$@" || status=$?
  for v in "${!jobs[@]}"; do
    wait "${jobs[$v]}" || status=$?
    cat "${outs[$v]}"
  done
  echo "== Python 3.11: $py -m pytest -m '(slow or browser) and not untimed' $* (alone)"
  "$py" -m pytest -m "(slow or browser) and not untimed" "$@" || status=$?
else
  for v in ${others[@]+"${others[@]}"}; do
    if wait_for_venv "$v"; then fast_tier_in_venv "$v" "$@" || status=$?; else status=1; fi
  done
fi
exit $status
