#!/usr/bin/env bash
# What the Docker tier needs on a Debian machine: the engine (docker.io: dockerd 20.10 and its
# client), docker-compose 1.29 and mmdebstrap (the stand-in base images). Installs what is missing;
# fails, loudly, when it cannot (no root, no apt-get).
set -euo pipefail
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "the Docker tier needs ${missing[*]}: run it as root on Debian (apt-get), or install them" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
