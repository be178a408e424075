#!/usr/bin/env bash
# Tests the scale-out topology of scripts/scale-out.sh (PostgreSQL key store, HAProxy,
# `fhez serve` workers on loopback) through the balancer, with the load tool
# (crates/fhez-serve/src/bin/fhez-serve-load.rs; every reply decrypted and compared with
# the plaintext model: a different class or a value off by more than two promised
# release steps is `wrong`; a request that fails after the client's retries is `lost`):
#
#  1. register keys through the balancer, then predict: every worker must serve some
#     (their /metrics evaluation counts);
#  2. throughput with 1 worker (the other stopped) and with 2;
#  3. a load run during which worker 1 is SIGKILLed and restarted, then the store is
#     restarted.
#
#   scripts/scale-out-test.sh [--short] [--out FILE]
#
# --short: fewer requests (CI). --out: also write the report (markdown) to FILE. The
# last line is `ok N wrong N lost N` over all runs; the exit status is non-zero when
# wrong or lost is not 0 or a worker served nothing. Workers have one evaluation slot
# each (`--max-in-flight 1`), so one worker uses one core and the comparison measures
# adding a worker, not the second core of this 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

SHORT=0
OUT=
while [ $# -gt 0 ]; do
    case "$1" in
        --short) SHORT=1 ;;
        --out) OUT=$2; shift ;;
        *) sed -n '2,22p' "$0" >&2; exit 2 ;;
    esac
    shift
done
if [ "$SHORT" = 1 ]; then N_EACH=8; N_TPUT=12; N_FAULT=30; else N_EACH=16; N_TPUT=40; N_FAULT=80; fi
CONC=4

export WORKERS=2 LB_PORT=${LB_PORT:-18080} RUN_DIR=${RUN_DIR:-$PWD/target/scale-out-test}
LB=http://127.0.0.1:$LB_PORT
SO=scripts/scale-out.sh
LOAD=target/release/fhez-serve-load
REPORT=$(mktemp)
cleanup() { bash "$SO" down >/dev/null 2>&1 || true; rm -f "$REPORT"; }
trap cleanup EXIT

cargo build --release -p fhez-cli -p fhez-serve --bins
rm -rf "$RUN_DIR"
bash "$SO" up

load() { # REQUESTS -> JSON on stdout
    "$LOAD" --server "$LB" --model bars --model-file "$RUN_DIR/bars.json" \
        --keys "$RUN_DIR/client-keys" --requests "$1" --concurrency "$CONC" --pool 4 \
        --samples 4 --time-limit-s 600 2>>"$RUN_DIR/load.log"
}
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))' "$1" "$2"; }
evals() { # worker I: batch evaluations so far
    curl -fsS "http://127.0.0.1:$((LB_PORT + $1))/metrics" |
        awk '/^fhez_evaluation_seconds_count\{mode="batch"\}/ {print $2; f=1} END {if (!f) print 0}'
}
row() { # NAME JSON
    printf '| %s | %s | %s | %s | %s | %.2f req/s | %.2f s | %.2f s | %s |\n' "$1" \
        "$(field "$2" count)" "$(field "$2" ok)" "$(field "$2" wrong)" "$(field "$2" lost)" \
        "$(field "$2" throughput_req_per_s)" "$(field "$2" "latency_s['p50']")" \
        "$(field "$2" "latency_s['p99']")" "$(field "$2" retried_gateway)" >>"$REPORT"
}
TOTAL_OK=0; TOTAL_WRONG=0; TOTAL_LOST=0
tally() {
    TOTAL_OK=$((TOTAL_OK + $(field "$1" ok)))
    TOTAL_WRONG=$((TOTAL_WRONG + $(field "$1" wrong) + $(field "$1" reference_vs_plaintext_class_disagreements)))
    TOTAL_LOST=$((TOTAL_LOST + $(field "$1" lost)))
}

{
    echo "Scale-out test ($(date -u +%Y-%m-%d), scripts/scale-out-test.sh$([ "$SHORT" = 1 ] && echo ' --short')):"
    echo "PostgreSQL key store, HAProxy (leastconn, health check GET /readyz), 2 workers with"
    echo "--max-in-flight 1, bars model (N = 2^14, 4 samples per request), $CONC clients with"
    echo "retries, on one 2-core machine shared with other builds (figures are pessimistic)."
    echo
    echo "| Run | count | ok | wrong | lost | throughput | p50 | p99 | gateway retries |"
    echo "|---|---|---|---|---|---|---|---|---|"
} >"$REPORT"

# 1. Keys registered through the balancer (the load tool's session), predictions through
#    every worker.
before1=$(evals 1); before2=$(evals 2)
J=$RUN_DIR/each.json; load "$N_EACH" >"$J"; tally "$J"; row "through the balancer, $N_EACH requests" "$J"
served1=$(( $(evals 1) - before1 )); served2=$(( $(evals 2) - before2 ))
NOTES="Run 1: worker 1 served $served1 requests, worker 2 served $served2 (their /metrics; including the load tool's 4 reference calls); the keys were registered once, through the balancer."

# 2. Throughput with 1 worker, then 2.
bash "$SO" stop-worker 2
sleep 3 # the balancer's health check marks it down (fall 2, inter 1 s)
J1=$RUN_DIR/one.json; load "$N_TPUT" >"$J1"; tally "$J1"; row "1 worker, $N_TPUT requests" "$J1"
bash "$SO" start-worker 2
sleep 3 # rise 2, inter 1 s
J2=$RUN_DIR/two.json; load "$N_TPUT" >"$J2"; tally "$J2"; row "2 workers, $N_TPUT requests" "$J2"

# 3. Faults during a load run: SIGKILL worker 1 and restart it, then restart the store.
JF=$RUN_DIR/fault.json
load "$N_FAULT" >"$JF" &
LOAD_PID=$!
sleep 8
bash "$SO" kill-worker 1
sleep 4
bash "$SO" start-worker 1
sleep 4
bash "$SO" restart-store
wait "$LOAD_PID"
NOTES="$NOTES Fault run: worker 1 SIGKILLed 8 s into the run, started again 4 s later (the script waits for its /readyz), then PostgreSQL restarted (fast shutdown) 4 s after that; gateway retries are requests the client sent again after a 502/504 or a reset connection."
tally "$JF"; row "fault run, $N_FAULT requests" "$JF"

t1=$(field "$J1" throughput_req_per_s); t2=$(field "$J2" throughput_req_per_s)
{
    echo
    echo "$NOTES"
    echo
    python3 -c "import sys; print(f'Throughput 1 → 2 workers: {float(sys.argv[1]):.2f} → {float(sys.argv[2]):.2f} req/s (× {float(sys.argv[2])/float(sys.argv[1]):.2f}).')" "$t1" "$t2"
    echo
    echo "ok $TOTAL_OK wrong $TOTAL_WRONG lost $TOTAL_LOST"
} >>"$REPORT"
cat "$REPORT"
if [ -n "$OUT" ]; then cp "$REPORT" "$OUT"; fi
[ "$served1" -gt 0 ] && [ "$served2" -gt 0 ] && [ "$TOTAL_WRONG" = 0 ] && [ "$TOTAL_LOST" = 0 ]
