#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the local stack and the tests need, when they are missing:
# PostgreSQL 15 with PL/Python and pg_cron (the local Aurora), zip (package.sh) and python3-venv (make setup).
# As root it runs apt-get; otherwise it uses sudo when that needs no password, else it prints the
# exact command to run and exits 1. Used by `make demo` and by CI (.ci/run).
set -euo pipefail

missing=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
[ -e /usr/lib/postgresql/15/lib/plpython3.so ] || missing+=(postgresql-plpython3-15)
[ -e /usr/lib/postgresql/15/lib/pg_cron.so ] || missing+=(postgresql-15-cron)
command -v zip >/dev/null 2>&1 || missing+=(zip)
# Debian's own python3 ships venv/ensurepip separately; `make setup` needs them unless .venv exists.
[ -x .venv/bin/python ] || python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then
  apt=(apt-get)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  apt=(sudo apt-get)
else
  echo "Missing packages: ${missing[*]}. Install them, then run the command again:" >&2
  echo "    sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
"${apt[@]}" update -qq
DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq "${missing[@]}"
