# Shared by the test scripts in tools/ (sourced, not run).
#
# start_parleyd DIR LOG [parleyd flags...]: starts "$bin/parleyd" on a free
# loopback port with its data and certificates under DIR, appending its
# output to LOG, and waits until it listens. Sets $pid and $port; exits the
# script (after printing the log) if parleyd dies or does not start in 30 s.
start_parleyd() {
  local dir=$1 log=$2
  shift 2
  "$bin/parleyd" --port 0 --no-metrics --data-dir "$dir/data" --certs-dir "$dir/certs" "$@" >>"$log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 300); do
    port=$(grep -oE -- '--server 127\.0\.0\.1:[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "parleyd exited early" >&2; exit 1; }
    sleep 0.1
  done
  cat "$log"
  echo "parleyd did not start" >&2
  exit 1
}
