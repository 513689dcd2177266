#!/usr/bin/env bash
# Stand-ins for the official base images docker/Dockerfile and docker/compose.yaml name, made from
# Debian's packages (mmdebstrap) for a machine that reaches Debian's mirror and the package index
# but no image registry. Each is tagged with the official name, so the project's Dockerfile and
# Compose file build and run unchanged. They honour the interface the Compose file uses:
#   python:3.11-slim-bookworm  Debian's python3 (3.11), venv, `python` on PATH
#   redis:7.4-alpine           Debian's redis-server (7.0), /bin/sh, redis-cli, /data
#   postgres:16-alpine         Debian's PostgreSQL (15) behind an entrypoint that honours POSTGRES_PASSWORD,
#                              POSTGRES_USER, POSTGRES_DB and PGDATA=/var/lib/postgresql/data, port 5432
#   mher/flower:2.0            Flower 2.0.1 from the package index, `celery` on PATH
# Usage: docker/standins/build.sh [WORK_DIR]   (needs root, mmdebstrap and a running Docker engine;
# PIP_CA: a CA bundle pip must trust to reach the package index, passed as a build secret)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
slim=(--variant=apt --quiet
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
      --dpkgopt='path-exclude=/usr/share/locale/*'
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*')

base() {  # base NAME:TAG PACKAGES [mmdebstrap options...] -- [docker import changes...]
    local tag=$1 packages=$2; shift 2
    local options=() changes=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do options+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    for change in "$@"; do changes+=(--change "$change"); done
    local tar="$work/${tag//[:\/]/_}.tar"
    local began=$SECONDS
    mmdebstrap "${slim[@]}" "${options[@]}" --include="$packages" bookworm "$tar"
    docker import "${changes[@]}" "$tar" "$tag" >/dev/null
    rm -f "$tar"
    echo "stand-in $tag: $((SECONDS - began)) s"
}

base python:3.11-slim-bookworm python3,python3-venv,python-is-python3,passwd,ca-certificates,tzdata -- \
    'ENV LANG=C.UTF-8' 'CMD ["python3"]'
base redis:7.4-alpine redis-server,redis-tools \
    --customize-hook='mkdir -p "$1/data"' -- \
    'WORKDIR /data' 'EXPOSE 6379' 'CMD ["redis-server"]'
base postgres:16-alpine postgresql \
    --customize-hook='rm -rf "$1"/var/lib/postgresql/* "$1"/etc/postgresql/*' \
    --customize-hook="upload $here/postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh" \
    --customize-hook='chmod 755 "$1/usr/local/bin/docker-entrypoint.sh"' -- \
    'ENV LANG=C.UTF-8' 'ENV PGDATA=/var/lib/postgresql/data' \
    'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENTRYPOINT ["docker-entrypoint.sh"]' 'EXPOSE 5432' 'CMD ["postgres"]'

began=$SECONDS
secret=()
[ -n "${PIP_CA:-}" ] && secret=(--secret "id=pip-ca,src=$PIP_CA")
DOCKER_BUILDKIT=1 docker build --quiet --network host "${secret[@]}" -t mher/flower:2.0 -f "$here/flower.Dockerfile" "$here" >/dev/null
echo "stand-in mher/flower:2.0: $((SECONDS - began)) s"
