#!/usr/bin/env bash
# Make the public images deploy/compose/compose.yaml needs available to the local Docker engine.
#
#   deploy/compose/standin-images.sh IMAGE...
#
# IMAGE: the Dockerfile's FROM and each public `image:` of compose.yaml (python, postgres,
# nginx), with the tags written there; the deployment test reads them from those two files.
# Each image that is not there yet is pulled. Only when the pull fails (a machine that reaches
# no container registry, like CI here) is a stand-in built under the same name, from Debian's
# packages, which such a machine does reach:
#   * a base from `debootstrap --variant=minbase bookworm`, imported with `docker import`;
#   * python:3.11-slim: Debian's python3 (3.11) with a venv first on PATH (Debian's python is
#     "externally managed", PEP 668) and the host's CA bundle trusted, so pip reaches PyPI;
#   * postgres:<major>: Debian's postgresql-<major> behind an entrypoint honouring the official
#     image's contract (POSTGRES_USER/PASSWORD/DB, PGDATA, /docker-entrypoint-initdb.d),
#     initialised with UTF8;
#   * nginx:<version>: Debian's nginx and openssl behind an entrypoint honouring the official
#     image's contract (/docker-entrypoint.d/*.sh run before nginx starts, conf.d/ included,
#     logs on stdout/stderr, workers as user nginx).
# Needs root (debootstrap) and a running engine. A stand-in is labelled bamboo.standin=true.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BASE=bamboo-standin/bookworm-minbase:latest
HOST_CA=/etc/ssl/certs/ca-certificates.crt

say() { echo "standin-images: $*" >&2; }

# The Debian mirror the host's apt uses (deb822 `URIs:` or one-line `deb URL`), not -security.
debian_mirror() {
    local uri
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}' \
        | grep -v -- '-security' | head -n 1 || true)
    if [ -z "$uri" ]; then
        uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '$1 == "deb" && $2 !~ /^\[/ {print $2}' | grep -v -- '-security' | head -n 1 || true)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

build_base() {
    docker image inspect "$BASE" >/dev/null 2>&1 && return
    command -v debootstrap >/dev/null || { say "debootstrap is not installed"; exit 1; }
    local root mirror
    root=$(mktemp -d)
    mirror=$(debian_mirror)
    say "debootstrap bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
    tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - "$BASE" >/dev/null
    rm -rf "$root"
}

build_python() {  # $1: the image name to stand in for
    local context
    context=$(mktemp -d)
    cp "$HERE/standin/python.Dockerfile" "$context/Dockerfile"
    cp "$HOST_CA" "$context/host-ca.crt"
    docker build -q --build-arg "BASE=$BASE" -t "$1" "$context" >/dev/null
    rm -rf "$context"
}

build_nginx() {  # $1: nginx:<version>; Debian's nginx, whatever the version asked for
    docker build -q --build-arg "BASE=$BASE" -t "$1" \
        -f "$HERE/standin/nginx.Dockerfile" "$HERE/standin" >/dev/null
}

build_postgres() {  # $1: postgres:<major>
    local major=${1#postgres:}
    major=${major%%[.-]*}
    docker build -q --build-arg "BASE=$BASE" --build-arg "PG_MAJOR=$major" -t "$1" \
        -f "$HERE/standin/postgres.Dockerfile" "$HERE/standin" >/dev/null
}

for image in "$@"; do
    if docker image inspect "$image" >/dev/null 2>&1; then
        say "$image: present"
        continue
    fi
    if docker pull -q "$image" >/dev/null 2>&1; then
        say "$image: pulled"
        continue
    fi
    case "$image" in
        python:3.11-slim) build_base; build_python "$image" ;;
        postgres:[0-9]*) build_base; build_postgres "$image" ;;
        nginx:[0-9]*) build_base; build_nginx "$image" ;;
        *) say "$image cannot be pulled and has no stand-in"; exit 1 ;;
    esac
    say "$image: stand-in built"
done
