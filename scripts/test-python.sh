#!/usr/bin/env bash
# Builds the Python package the way a user installs it (pip install ./bindings/python)
# into a venv, then checks its types (mypy --strict) and runs its tests against a real
# Directus (the tests start and stop their own server).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${DCHAT_PY_VENV:-target/python-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" 2>/dev/null || {
    echo "[test-python] installing python3-venv" >&2
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >&2
    python3 -m venv "$venv"
  }
fi
py="$venv/bin/python"
"$py" -m pip install -q --disable-pip-version-check "maturin>=1.5,<2" "pytest==8.3.5" "pytest-timeout==2.3.1" "mypy==1.13.0"
echo "== pip install ./bindings/python" >&2
"$py" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps ./bindings/python
echo "== mypy --strict" >&2
(cd bindings/python && "../../$py" -m mypy --strict python/directus_chat tests/typed_usage.py tests/test_nowait.py tests/test_server_info.py)
echo "== pytest" >&2
# The loopback flood server of the benchmarks, for the bounded-memory test.
cargo build -q -p directus-chat-bench --bin flood_server
export DCHAT_FLOOD_SERVER="$PWD/target/debug/flood_server"
(cd bindings/python && "../../$py" -m pytest -q -p no:cacheprovider tests)
