#!/usr/bin/env bash
# `make run`: talos-backend on the embedded SQLite store in $DATA_DIR, plus one local station
# (talos-satellite with a simulated rotator and radio) registered against it on the first run.
# Ctrl-C stops both: the station first (so its last events still reach the backend), then the
# backend.
set -euo pipefail

BIN=${BIN:-bin}
DATA_DIR=${DATA_DIR:-data}
PORT=${TALOS_PORT:-8080}
URL="http://localhost:${PORT}"
STATION_DIR="${DATA_DIR}/station"

export TALOS_DATA_DIR="${DATA_DIR}"
export TALOS_LISTEN="${TALOS_LISTEN:-:${PORT}}"
export TALOS_DEV=1
ADMIN_EMAIL="${TALOS_BOOTSTRAP_ADMIN_EMAIL:-admin@talos.local}"

# GET /api/health with bash alone (no curl on a minimal machine): true when it answers 200.
healthy() {
  { exec 3<>"/dev/tcp/127.0.0.1/${PORT}"; } 2>/dev/null || return 1
  printf 'GET /api/health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
  local status
  read -r _ status _ <&3 || status=""
  exec 3>&-
  [ "${status}" = "200" ]
}

pids=() # the backend first, then the station
stop() {
  trap - INT TERM
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap stop INT TERM

# setsid: each child in a session of its own, so a terminal's Ctrl-C reaches only this script,
# which then stops the two in order.
setsid "${BIN}/talos-backend" serve &
pids+=($!)

# The backend migrates and creates the first admin before it listens.
for _ in $(seq 1 100); do
  if healthy; then break; fi
  if ! kill -0 "${pids[0]}" 2>/dev/null; then echo "run: talos-backend exited" >&2; wait; exit 1; fi
  sleep 0.2
done
healthy || { echo "run: talos-backend does not answer ${URL}/api/health" >&2; stop; exit 1; }

if [ ! -f "${STATION_DIR}/identity.json" ]; then
  # First run: a team for the local station, owned by the first admin, and a one-use token.
  team=$("${BIN}/talos-backend" team create --name "Local station" --owner "${ADMIN_EMAIL}" | awk '{print $NF}')
  token=$("${BIN}/talos-backend" token create --team "${team}" --ttl 10m --name "make run")
  TALOS_REGISTRATION_TOKEN="${token}" "${BIN}/talos-satellite" register \
    --backend "${URL}" --name "Local station" --lat 48.15 --lon 11.57 --alt-m 520 \
    --capabilities rotator,radio,proc --state-dir "${STATION_DIR}"
fi

setsid "${BIN}/talos-satellite" run --config deploy/dev/station.yaml --state-dir "${STATION_DIR}" &
pids+=($!)

cat <<MSG

  Talos is running at ${URL} with one local station (simulated rotator and radio).
  Sign in as ${ADMIN_EMAIL}; the one-time password is printed above on the first start.
  Ctrl-C stops both.

MSG
wait
