#!/usr/bin/env bash
# Start a throwaway MariaDB for the scale benchmarks, with a production-sized buffer pool,
# beside (never instead of) the shared server. Prints the URL to pass as --db-url.
#
#   benchmarks/private_mariadb.sh start [buffer-pool, default 4G] [port, default 3310]
#   benchmarks/private_mariadb.sh stop
#
# Its data lives in data/bench/mariadb-<port>/ and is deleted by `stop` (the server is stopped
# by its own PID). Root connects over TCP without a password (--skip-grant-tables): for
# benchmarks on this machine only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
action="${1:-start}"
pool="${2:-4G}"
port="${3:-3310}"
dir="$ROOT/data/bench/mariadb-$port"
server="$(command -v mariadbd || echo /usr/sbin/mariadbd)"
case "$action" in
  start)
    if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      echo "mysql://root@127.0.0.1:$port"; exit 0
    fi
    rm -rf "$dir" && mkdir -p "$dir"
    mariadb-install-db --no-defaults --datadir="$dir/data" --user="$(id -un)" \
      --auth-root-authentication-method=normal >"$dir/install.log" 2>&1
    "$server" --no-defaults --datadir="$dir/data" --port="$port" --socket="$dir/sock" \
      --bind-address=127.0.0.1 --user="$(id -un)" --skip-grant-tables --local-infile=1 \
      --innodb-buffer-pool-size="$pool" --innodb-log-file-size=1G --pid-file="$dir/pid" \
      >"$dir/server.log" 2>&1 &
    for _ in $(seq 1 60); do
      mariadb -uroot -h127.0.0.1 -P"$port" -e "select 1" >/dev/null 2>&1 && break
      sleep 1
    done
    echo "mysql://root@127.0.0.1:$port"
    ;;
  stop)
    if [ -f "$dir/pid" ]; then kill "$(cat "$dir/pid")" && sleep 3; fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start [pool] [port] | stop [_] [port]" >&2; exit 2 ;;
esac
