#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer, starting the
# machine's own servers when they don't. Tests create their own databases and key prefixes.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == "PONG" ]]; }

wait_for() {
  local name=$1 check=$2
  for _ in $(seq 1 50); do
    if $check; then echo "$name: up"; return 0; fi
    sleep 0.2
  done
  echo "$name: did not come up" >&2
  return 1
}

if pg_up; then
  echo "postgresql: up"
else
  echo "postgresql: starting"
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  fi
  wait_for postgresql pg_up
fi

if redis_up; then
  echo "redis: up"
else
  echo "redis: starting"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  wait_for redis redis_up
fi
