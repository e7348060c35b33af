# Shared by scripts/run, scripts/test and scripts/bench: make .venv and install KAT Monitor into it.
# Usage: . scripts/_venv.sh EXTRAS   (EXTRAS e.g. "" or "test,postgres")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
extras="${1:-}"
target="$ROOT"
[ -n "$extras" ] && target="$ROOT[$extras]"
# Reinstall only when pyproject.toml changed since the last install (fast repeat runs).
stamp="$VENV/.katmonitor-installed-$extras"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    echo "installing KAT Monitor into $VENV ..."
    # Build-backend chatter goes to a log; it is shown only when the install fails.
    if ! { "$VENV/bin/python" -m pip install --quiet --upgrade pip \
           && "$VENV/bin/python" -m pip install --quiet -e "$target"; } >"$VENV/install.log" 2>&1
    then
        cat "$VENV/install.log" >&2
        echo "installing KAT Monitor failed (log above, also in $VENV/install.log)" >&2
        exit 1
    fi
    touch "$stamp"
fi
