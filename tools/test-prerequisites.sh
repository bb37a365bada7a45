#!/usr/bin/env bash
# Owns what `npm test` needs from the system (it runs this first): checks each program the specs
# start, and when something is missing either installs it (root on Debian: apt-get) or stops at
# once with the one command that installs it. Safe to re-run: it installs only what is missing.
# As root it also checks that the OS user the specs run servers as can reach the checkout.
set -euo pipefail

here=${BASH_SOURCE[0]%/*}
[[ $here != "${BASH_SOURCE[0]}" ]] || here=.
repo=$(cd "$here/.." && pwd)

# Debian package -> test that says it is already present. pgbench lives in the server package
# (postgresql-15) on Debian 12, not in postgresql-client: /usr/bin/pgbench is only
# postgresql-client-common's wrapper, so look for the real binary. The Python modules are
# checked with Debian's /usr/bin/python3, the interpreter those packages install into (a pyenv
# or venv python3 earlier on PATH would not see them; specs use /usr/bin/python3).
has_pg_bin() { compgen -G "/usr/lib/postgresql/*/bin/$1" >/dev/null || command -v "$1" >/dev/null; }
packages=(postgresql postgresql-client pgbouncer python3-psycopg python3-asyncpg libpostgresql-jdbc-java default-jdk-headless openssl git systemd procps iproute2 strace chromium python3-prometheus-client)
declare -A present=(
  [postgresql]="has_pg_bin initdb && has_pg_bin pg_basebackup && compgen -G '/usr/lib/postgresql/*/bin/pgbench' >/dev/null"
  [postgresql-client]="command -v psql >/dev/null"
  [pgbouncer]="test -x /usr/sbin/pgbouncer || command -v pgbouncer >/dev/null"
  [python3-psycopg]="/usr/bin/python3 -c 'import psycopg' 2>/dev/null"
  [python3-asyncpg]="/usr/bin/python3 -c 'import asyncpg' 2>/dev/null"
  [libpostgresql-jdbc-java]="test -e /usr/share/java/postgresql.jar"
  [default-jdk-headless]="command -v javac >/dev/null && command -v java >/dev/null"
  [openssl]="command -v openssl >/dev/null"
  [git]="command -v git >/dev/null"
  [systemd]="command -v systemd-analyze >/dev/null"
  [procps]="test -x /bin/kill || test -x /usr/bin/kill"
  [iproute2]="command -v ss >/dev/null"
  [strace]="command -v strace >/dev/null"
  [chromium]="test -x /usr/bin/chromium"
  [python3-prometheus-client]="/usr/bin/python3 -c 'import prometheus_client.openmetrics.parser' 2>/dev/null"
)
# What each is for, in the message when it is missing.
declare -A why=(
  [postgresql]="PostgreSQL server (initdb, pg_basebackup, pgbench)"
  [postgresql-client]="psql"
  [pgbouncer]="PgBouncer, the reference the compatibility specs compare with"
  [python3-psycopg]="psycopg 3 driver specs"
  [python3-asyncpg]="asyncpg driver specs"
  [libpostgresql-jdbc-java]="pgJDBC driver specs"
  [default-jdk-headless]="java and javac for the pgJDBC specs"
  [openssl]="certificates for the TLS specs"
  [git]="the quick start spec clones the repository"
  [systemd]="systemd-analyze checks examples/pgmux.service"
  [procps]="/bin/kill, which examples/pgmux.service reloads with"
  [iproute2]="ss, with which pgmux finds the OS user at the other end of a unix socket"
  [strace]="spec/failover counts the pooler's connection attempts with strace (spec/support/dials.ts)"
  [chromium]="the status page spec drives Debian's browser with playwright-core (which downloads none)"
  [python3-prometheus-client]="the Prometheus project's own parsers read /metrics in the metrics specs"
)

# As root the specs run PostgreSQL, PgBouncer and pgmux itself as `postgres`, which must be able
# to reach the checkout (a clone under /root, mode 0700, is out of its reach).
check_reachable() {
  [[ $(id -u) -eq 0 ]] && id postgres >/dev/null 2>&1 || return 0
  runuser -u postgres -- test -r "$repo/bin/pgmux" && return 0
  local dir=/ part
  IFS=/ read -ra parts <<<"${repo#/}"
  for part in "${parts[@]}"; do
    dir=${dir%/}/$part
    runuser -u postgres -- test -x "$dir" || break
  done
  echo "The specs run pgmux, PgBouncer and PostgreSQL as the OS user postgres, which cannot reach $repo." >&2
  echo "Clone the repository where postgres can read it (under /srv or /opt, say), or let it through:" >&2
  echo "  chmod o+x $dir" >&2
  exit 1
}

missing=()
for pkg in "${packages[@]}"; do
  if ! eval "${present[$pkg]}"; then missing+=("$pkg"); fi
done
if ((${#missing[@]} == 0)); then
  check_reachable
  echo "test prerequisites: all present (${packages[*]})"
  exit 0
fi

echo "test prerequisites missing:" >&2
for pkg in "${missing[@]}"; do echo "  $pkg: ${why[$pkg]}" >&2; done
command="apt-get install -y --no-install-recommends ${missing[*]}"

if [[ ! -e /etc/debian_version ]] || ! command -v apt-get >/dev/null; then
  echo "This is not a Debian-based system: install the equivalents of these Debian packages, then run npm test again." >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "Install them with:" >&2
  echo "  sudo $command" >&2
  exit 1
fi

# Keep the packages' init scripts from starting services (PostgreSQL on 5432, PgBouncer on 6432,
# the port the demo and its specs use): policy-rc.d exit 101 means "not allowed".
own_policy=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  own_policy=1
fi
trap 'if ((own_policy)); then rm -f /usr/sbin/policy-rc.d; fi' EXIT
echo "running as root on Debian: $command" >&2
apt-get update -q
DEBIAN_FRONTEND=noninteractive $command -q
check_reachable
echo "test prerequisites: installed ${missing[*]}"
