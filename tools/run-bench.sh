#!/usr/bin/env bash
# Run every bench program; each prints its own rows of figures.
set -u
for b in "$@"; do echo "== $b"; "$b" || echo "bench $b failed"; done
