# Sourced by scripts/dev and scripts/test: makes .venv with Python >= 3.11 and installs Concord
# into it (with EXTRAS, e.g. "[dev]"), reinstalling only when pyproject.toml changed.
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Concord needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv ..."
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed${EXTRAS:-}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing dependencies into .venv ..."
  # setuptools too: the one venv bundles (65.5 on Python 3.11) has known advisories (PROC-1).
  .venv/bin/python -m pip install --quiet --upgrade pip "setuptools>=78.1.1"
  .venv/bin/python -m pip install --quiet -e ".${EXTRAS:-}"
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
