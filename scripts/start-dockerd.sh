#!/usr/bin/env bash
# A Docker engine on a machine without systemd (CI, a container, a bare VM), as root:
#   scripts/start-dockerd.sh start   # returns once `docker info` answers (about 3 s)
#   scripts/start-dockerd.sh stop    # stops the dockerd that `start` started, nothing else
# `start` does nothing when an engine already answers. It fails, with the end of dockerd's log,
# when dockerd is missing (apt-get install docker.io) or does not come up within 60 s.
set -euo pipefail
PIDFILE=${BAMBOO_DOCKERD_PIDFILE:-/tmp/bamboo-dockerd.pid}
LOG=${BAMBOO_DOCKERD_LOG:-/tmp/bamboo-dockerd.log}

stop() {
    [ -f "$PIDFILE" ] || return 0
    local pid
    pid=$(cat "$PIDFILE")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
}

start() {
    if docker info >/dev/null 2>&1; then
        echo "start-dockerd: a Docker engine already answers"
        return 0
    fi
    command -v dockerd >/dev/null || { echo "start-dockerd: dockerd is not installed" >&2; exit 1; }
    setsid dockerd >"$LOG" 2>&1 < /dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 120); do
        if docker info >/dev/null 2>&1; then
            echo "start-dockerd: dockerd $(cat "$PIDFILE") is up"
            return 0
        fi
        kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
        sleep 0.5
    done
    echo "start-dockerd: dockerd did not start; the end of $LOG:" >&2
    tail -n 20 "$LOG" >&2
    stop
    exit 1
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
