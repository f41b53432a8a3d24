#!/usr/bin/env bash
# Run every benchmark in bench/ and print their markdown tables (results go to docs/benchmarks.md by hand,
# with the date and the machine's load). Expects the test servers' environment (make bench provides it).
#   scripts/run-benchmarks.sh [NAME...]     NAME in: eventstore bus blobs storage engines pipeline classify (default: all present)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
names=("$@")
((${#names[@]})) || names=(eventstore bus blobs storage engines pipeline classify)
echo "# benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
for name in "${names[@]}"; do
  if [[ ! -e bench/$name.py && ! -d bench/$name ]]; then
    echo "(no bench/$name yet)"; continue
  fi
  echo; echo "## $name"
  case $name in
    eventstore) $PY -m bench.eventstore --mongo-url "$ET_TEST_MONGO_URL" ;;
    bus) $PY -m bench.bus --mongo-url "$ET_TEST_MONGO_URL" ;;
    *) $PY -m "bench.$name" ;;
  esac
done
