#!/usr/bin/env bash
# Grid Command on a fresh Debian/Ubuntu machine, in one command:
#
#   ./run.sh demo                  set up, migrate, seed the demo data, serve http://127.0.0.1:8050
#   ./run.sh test [pytest args]    set up, then run the test suite
#
# "Set up" means: install the missing system packages (as root, via apt-get; otherwise it
# prints the exact `sudo apt-get install` line), create .venv and `pip install -e '.[test]'`
# (skipped while pyproject.toml is unchanged), and -- unless DATABASE_URL is configured --
# start the private PostGIS instance in var/pg (`gridcmd db up`).
# A second run installs nothing and needs no network.
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
export DEBIAN_FRONTEND=noninteractive

say() { printf '==> %s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

usage() {
    cat <<'EOF'
usage: ./run.sh demo                 start the demo on http://127.0.0.1:8050
       ./run.sh test [pytest args]   run the test suite
EOF
}

mode="${1:-}"
case "$mode" in
    demo | test) shift ;;
    -h | --help | help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
esac

# --------------------------------------------------------------------------- helpers

# Installed (not merely "config-files" left after a removal).
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

is_root() { [ "$(id -u)" -eq 0 ]; }
have_apt() { command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; }

# DATABASE_URL set in the environment or in .env (pydantic-settings reads .env itself).
db_url_configured() {
    [ -n "${DATABASE_URL:-}" ] && return 0
    [ -f .env ] && grep -qiE \
        "^[[:space:]]*(export[[:space:]]+)?DATABASE_URL[[:space:]]*=[[:space:]]*[^[:space:]#\"']" .env
}

# The interpreter for .venv: python3.11 if on PATH, else python3 (empty if neither).
pick_python() {
    if command -v python3.11 >/dev/null 2>&1; then
        echo python3.11
    elif command -v python3 >/dev/null 2>&1; then
        echo python3
    fi
}

py_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }
py_recent() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; }
venv_ok() { [ -x .venv/bin/python ] && py_recent .venv/bin/python 2>/dev/null; }

# Highest PostgreSQL major version with server binaries installed (Debian layout), or empty.
pg_installed_major() {
    local d best=""
    for d in /usr/lib/postgresql/*/bin/postgres; do
        [ -x "$d" ] || continue
        d="${d#/usr/lib/postgresql/}"
        d="${d%%/*}"
        if [[ "$d" =~ ^[0-9]+$ ]] && { [ -z "$best" ] || [ "$d" -gt "$best" ]; }; then
            best="$d"
        fi
    done
    echo "$best"
}

# Major version the `postgresql` package would install (from the local apt lists), or empty.
pg_candidate_major() {
    apt-cache depends postgresql 2>/dev/null \
        | sed -n 's/^ *Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -n 1
}

# Print the system packages still missing, one per line.
missing_packages() {
    local py ver pgver
    py="$(pick_python)"
    if [ -z "$py" ]; then
        echo python3
        echo python3-venv
    elif ! venv_ok && py_recent "$py" && ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        ver="$(py_version "$py")"
        if command -v python3 >/dev/null 2>&1 && [ "$(py_version python3)" = "$ver" ]; then
            echo python3-venv
        else
            echo "python${ver}-venv"
        fi
    fi
    if ! db_url_configured; then
        pgver="$(pg_installed_major)"
        if [ -z "$pgver" ]; then
            echo postgresql
            pgver="$(pg_candidate_major)"
            echo "postgresql-${pgver:-<N>}-postgis-3"
        elif [ ! -f "/usr/share/postgresql/${pgver}/extension/postgis.control" ]; then
            echo "postgresql-${pgver}-postgis-3"
        fi
    fi
    if [ "$mode" = test ] && [ ! -x /usr/bin/chromium ]; then
        echo chromium
        echo chromium-driver
    fi
    # Playwright's bundled node driver (browser tests) links libatomic.so.1, which a minimal
    # Debian root lacks: without it every browser test fails to start.
    if [ "$mode" = test ] && ! pkg_installed libatomic1; then
        echo libatomic1
    fi
    # CJK glyphs for browser screenshots of the Chinese UI.
    if [ "$mode" = test ] && ! pkg_installed fonts-wqy-microhei; then
        echo fonts-wqy-microhei
    fi
}

# --------------------------------------------------------------------------- 1. system packages

apt_updated=0
for _round in 1 2 3; do
    mapfile -t need < <(missing_packages)
    [ "${#need[@]}" -eq 0 ] && break
    if ! is_root || ! have_apt; then
        echo "run.sh: missing system packages: ${need[*]}" >&2
        if have_apt; then
            echo "Install them with:  sudo apt-get install -y ${need[*]}" >&2
        else
            echo "Install the equivalent packages for your system (Debian/Ubuntu names shown)." >&2
        fi
        [ "$mode" = demo ] && ! db_url_configured &&
            echo "(Or set DATABASE_URL to an existing PostGIS database.)" >&2
        exit 1
    fi
    if [ "$apt_updated" -eq 0 ]; then
        say "apt-get update"
        apt-get update -q
        apt_updated=1
        mapfile -t need < <(missing_packages) # versions are known now
        [ "${#need[@]}" -eq 0 ] && break
    fi
    case " ${need[*]} " in *"<N>"*) need=(postgresql) ;; esac # postgis once N is known
    say "apt-get install ${need[*]}"
    apt-get install -y -q "${need[@]}"
done
mapfile -t need < <(missing_packages)
[ "${#need[@]}" -eq 0 ] || die "still missing after apt-get install: ${need[*]}"

# --------------------------------------------------------------------------- 2. .venv

py="$(pick_python)"
[ -n "$py" ] || die "no python3 found"
py_recent "$py" || die "Python >= 3.11 is required, but $py is $(py_version "$py");" \
    "install python3.11 (or newer) and make it available as python3.11 or python3"

if [ -e .venv ] && ! venv_ok; then
    say "removing the unusable .venv"
    rm -rf .venv
fi
if [ ! -e .venv ]; then
    say "creating .venv with $py ($(py_version "$py"))"
    "$py" -m venv .venv
fi

stamp=.venv/.gridcmd-install-stamp
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ] || [ ! -x .venv/bin/gridcmd ]; then
    say "pip install -e '.[test]' (into .venv)"
    .venv/bin/python -m pip install --disable-pip-version-check -q -e '.[test]'
    echo "$want" >"$stamp"
fi

# --------------------------------------------------------------------------- 3. database

if db_url_configured; then
    say "using DATABASE_URL"
else
    say "starting the private PostGIS instance (var/pg)"
    .venv/bin/gridcmd db up
fi

# --------------------------------------------------------------------------- 4. run

case "$mode" in
    demo)
        say "migrating the database"
        .venv/bin/gridcmd db migrate
        say "seeding the demo data (if the database is empty)"
        .venv/bin/gridcmd seed demo --if-empty
        if [ "${GRIDCMD_DEMO_SIMULATE:-1}" != "0" ] && [ -f var/demo_tokens.json ]; then
            # Live demo data: synthetic phones drive the real API once the server answers
            # (GRIDCMD_DEMO_SIMULATE=0 turns this off). Log: var/simulate.log.
            say "starting the field simulator in the background (var/simulate.log)"
            (
                for _ in $(seq 1 120); do
                    .venv/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
                        "http://${GRIDCMD_HOST:-127.0.0.1}:${GRIDCMD_PORT:-8050}/healthz" 2>/dev/null && break
                    sleep 1
                done
                exec .venv/bin/gridcmd simulate --workers 300 --rate 6 --duration 86400 \
                    --base-url "http://${GRIDCMD_HOST:-127.0.0.1}:${GRIDCMD_PORT:-8050}"
            ) > var/simulate.log 2>&1 &
        fi
        # Deadlines and supervision (督办) run without any browser open: overdue cases are
        # supervised and escalated by this job. Log: var/supervise.log.
        say "starting the supervision job in the background (var/supervise.log)"
        .venv/bin/gridcmd supervise > var/supervise.log 2>&1 &
        say "starting the web server (gridcmd serve; default http://127.0.0.1:8050)"
        exec .venv/bin/gridcmd serve
        ;;
    test)
        # Everything, in parallel: one pytest-xdist worker per core, each test module on one
        # worker (the browser modules all on one: tests/conftest.py). Later arguments win:
        # `./run.sh test -n 0` runs serially, `-m "not browser and not slow"` is the inner loop.
        say "running the tests"
        exec .venv/bin/python -m pytest -n "${GRIDCMD_TEST_WORKERS:-auto}" --dist loadfile "$@"
        ;;
esac
