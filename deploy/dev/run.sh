#!/usr/bin/env bash
# `make run`: talos-backend on the embedded SQLite store in $DATA_DIR, plus one local station
# (talos-satellite with a simulated rotator and radio) registered against it on the first run.
# Ctrl-C stops both: the station first (so its last events still reach the backend), then the
# backend, and the script then exits 0.
#
# One variable sets the address: TALOS_LISTEN (host:port, default 127.0.0.1:8080), the same the
# backend reads. Several `make run`s side by side need their own DATA_DIR and TALOS_LISTEN; each
# picks a free status port for its station (7373 or the next free one).
set -euo pipefail

BIN=${BIN:-bin}
DATA_DIR=${DATA_DIR:-data}
# The station's state sits next to the backend's data directory, not in it: the data directory
# is 0700, and the station's team users must reach their directories (<state dir>-teams).
STATION_DIR="${DATA_DIR%/}-station"
STATION_CONFIG=${STATION_CONFIG:-deploy/dev/station.yaml}
ADMIN_EMAIL="${TALOS_BOOTSTRAP_ADMIN_EMAIL:-admin@talos.local}"

fail() {
  echo "run: $*" >&2
  exit 1
}

# `make run 2>&1 | tee log`: Ctrl-C ends tee first, and a write to the dead pipe must not kill
# this script halfway through stopping the station and the backend. The children inherit the
# ignored SIGPIPE, so their writes fail with EPIPE instead of killing them.
trap '' PIPE

if [ -n "${TALOS_PORT:-}" ]; then
  fail "TALOS_PORT is not read; set the address with TALOS_LISTEN=host:port (e.g. TALOS_LISTEN=127.0.0.1:${TALOS_PORT})"
fi
export TALOS_LISTEN="${TALOS_LISTEN:-127.0.0.1:8080}"
PORT=${TALOS_LISTEN##*:}
HOST=${TALOS_LISTEN%:*}
case "${PORT}" in
'' | *[!0-9]*) fail "TALOS_LISTEN=${TALOS_LISTEN}: want host:port, e.g. 127.0.0.1:8080" ;;
0) fail "TALOS_LISTEN=${TALOS_LISTEN}: make run needs a fixed port for its station (not 0)" ;;
esac
# The address to reach the backend at: a wildcard listen is reached on the loopback interface.
case "${HOST}" in
'' | 0.0.0.0 | '[::]' | localhost | 127.0.0.1) HOST=127.0.0.1 URL="http://localhost:${PORT}" ;;
\[*\]) URL="http://${HOST}:${PORT}" HOST=${HOST:1:-1} ;;
*) URL="http://${HOST}:${PORT}" ;;
esac

# answers HOST PORT: true when something accepts a TCP connection there (bash alone: no curl or
# ss on a minimal machine).
answers() {
  { exec 3<>"/dev/tcp/$1/$2"; } 2>/dev/null || return 1
  exec 3>&-
}

# get HOST PORT PATH: prints the status line and body of a GET, with bash alone.
get() {
  { exec 3<>"/dev/tcp/$1/$2"; } 2>/dev/null || return 1
  printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$3" >&3
  timeout 5 cat <&3 || true
  exec 3>&-
}

# listens_by PID PORT: true when process PID itself holds the listening TCP socket on PORT. The
# health checks use it so that they never mistake another program on that port for ours.
listens_by() {
  local pid=$1 hexport inodes fd link
  hexport=$(printf '%04X' "$2")
  inodes=" "
  for fd in /proc/"${pid}"/fd/*; do
    link=$(readlink "${fd}" 2>/dev/null) || continue
    case "${link}" in socket:\[*\]) inodes+="${link//[!0-9]/} " ;; esac
  done
  # /proc/net/tcp{,6}: "sl local_address rem_address st ... inode"; st 0A is LISTEN.
  awk -v port=":${hexport}" -v inodes="${inodes}" \
    '$4 == "0A" && substr($2, length($2) - 4) == port && index(inodes, " " $10 " ") { found = 1 }
     END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# alive PID NAME: fails with a message when PID has exited.
alive() {
  kill -0 "$1" 2>/dev/null && return 0
  wait "$1" && status=0 || status=$?
  fail "$2 exited (status ${status}); its messages are above"
}

# free_port FROM: the first port from FROM on that nothing on 127.0.0.1 answers.
free_port() {
  local p
  for ((p = $1; p < $1 + 100; p++)); do
    answers 127.0.0.1 "${p}" || { echo "${p}"; return 0; }
  done
  fail "no free port in ${1}-$(($1 + 99)) for the station's status endpoint"
}

pids=() # the backend first, then the station
stopping=0
stop() {
  trap - INT TERM
  stopping=1
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
# A Ctrl-C is how make run is meant to end: stop both in order, then exit 0 (so make does not
# report "Error 130").
trap 'stop; exit 0' INT TERM

if answers "${HOST}" "${PORT}"; then
  fail "something already answers at ${HOST}:${PORT}; stop it, or pick another address: TALOS_LISTEN=127.0.0.1:18080 make run (and DATA_DIR=... for a second Talos)"
fi

# The data directory holds the database and the secret key: 0700, as docs/operations.md says.
if [ ! -d "${DATA_DIR}" ]; then
  mkdir -p -m 0700 "${DATA_DIR}"
elif [ -n "$(find "${DATA_DIR}" -maxdepth 0 -perm /077)" ]; then
  echo "run: ${DATA_DIR} was open to other users; making it 0700 (it holds the database and the secret key)" >&2
  chmod 0700 "${DATA_DIR}"
fi
export TALOS_DATA_DIR="${DATA_DIR}"
# Earlier make runs kept the station inside the data directory: move it out, keeping its identity.
for old in station station-teams; do
  if [ -d "${DATA_DIR}/${old}" ] && [ ! -e "${DATA_DIR%/}-${old}" ]; then
    echo "run: moving ${DATA_DIR}/${old} to ${DATA_DIR%/}-${old}" >&2
    mv "${DATA_DIR}/${old}" "${DATA_DIR%/}-${old}"
  fi
done
export TALOS_DEV=1

# The children write through a relay that outlives the reader of our output: under
# `make run 2>&1 | tee log`, Ctrl-C ends tee first, and a Go program whose stderr write fails
# with EPIPE dies of SIGPIPE (an inherited ignore does not stop that) in the middle of its
# graceful stop. The relay ignores SIGINT and SIGPIPE and drops what it can no longer write.
exec {relay}> >(
  trap '' INT PIPE
  while IFS= read -r line || [ -n "${line}" ]; do printf '%s\n' "${line}" 2>/dev/null || true; done
)

# setsid: each child in a session of its own, so a terminal's Ctrl-C reaches only this script,
# which then stops the two in order.
setsid "${BIN}/talos-backend" serve >&"${relay}" 2>&1 &
pids+=($!)
backend=$!

echo "run: waiting for talos-backend (pid ${backend}) at ${URL}: it migrates the database first" >&2
for _ in $(seq 1 300); do
  alive "${backend}" talos-backend
  if listens_by "${backend}" "${PORT}" && get "${HOST}" "${PORT}" /api/health | head -n 1 | grep -q ' 200 '; then
    break
  fi
  sleep 0.2
done
listens_by "${backend}" "${PORT}" || { stop; fail "talos-backend (pid ${backend}) does not listen on ${TALOS_LISTEN} after 60 s"; }

if [ ! -f "${STATION_DIR}/identity.json" ]; then
  # First run: a team for the local station, owned by the first admin, and a one-use token.
  team=$("${BIN}/talos-backend" team create --name "Local station" --owner "${ADMIN_EMAIL}" | awk '{print $NF}')
  token=$("${BIN}/talos-backend" token create --team "${team}" --ttl 10m --name "make run")
  TALOS_REGISTRATION_TOKEN="${token}" "${BIN}/talos-satellite" register \
    --backend "${URL}" --name "Local station" --lat 48.15 --lon 11.57 --alt-m 520 \
    --capabilities rotator,radio,proc --state-dir "${STATION_DIR}"
fi

# The station's status endpoint needs a port of its own: 7373 unless another station has it.
status_port=$(free_port 7373)
status_listen="127.0.0.1:${status_port}"
setsid "${BIN}/talos-satellite" run --config "${STATION_CONFIG}" --state-dir "${STATION_DIR}" \
  --status-listen "${status_listen}" >&"${relay}" 2>&1 &
pids+=($!)
station=$!

# The station is up when its own status endpoint says the backend answered its calls.
echo "run: waiting for the station (pid ${station}) to reach the backend" >&2
connected=0
for _ in $(seq 1 150); do
  alive "${station}" "talos-satellite (status endpoint ${status_listen}, --status-listen)"
  if listens_by "${station}" "${status_port}" &&
    get 127.0.0.1 "${status_port}" /api/status/backend | grep -q '"state": "connected"'; then
    connected=1
    break
  fi
  sleep 0.2
done
[ "${connected}" = 1 ] || { stop; fail "the station did not reach ${URL} within 30 s; its messages are above"; }

password_note="the password you set in TALOS_BOOTSTRAP_ADMIN_PASSWORD, or the one you changed it to"
if [ -f "${DATA_DIR}/admin-password" ]; then
  password_note="the first password is in ${DATA_DIR}/admin-password (change it, then delete the file)"
fi
cat <<MSG >&2

  Talos is running at ${URL} with one local station (simulated rotator and radio), online.
  Open ${URL} in a browser for the web UI, and sign in as ${ADMIN_EMAIL}: ${password_note}.
  Station status: ${BIN}/talos-satellite status --config ${STATION_CONFIG} --state-dir ${STATION_DIR} --status-listen ${status_listen}
  Ctrl-C stops both.

MSG
# wait returns when a signal's trap has run (which exits) or when a child exits on its own.
while [ "${stopping}" = 0 ]; do
  wait -n "${pids[@]}" || true
  for pid in "${pids[@]}"; do
    kill -0 "${pid}" 2>/dev/null || { echo "run: pid ${pid} exited; stopping the other" >&2; stop; exit 1; }
  done
done
