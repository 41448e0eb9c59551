#!/usr/bin/env bash
# Schemathesis (PyPI), the OpenAPI fuzzer the API tests run against
# `moocpipe serve`: installed once, pinned, into its own virtual environment
# under ~/.cache/moocpipe (nothing touches the system's Python).
#   scripts/schemathesis.sh ensure   installs it when missing; prints the path of `st`
set -euo pipefail
VERSION=4.32.5
VENV="${MOOCPIPE_CACHE:-$HOME/.cache/moocpipe}/schemathesis-$VERSION"
ST="$VENV/bin/st"
case "${1:-ensure}" in
  ensure)
    if [ ! -x "$ST" ]; then
      echo "moocpipe: installing schemathesis $VERSION into $VENV" >&2
      python3 -m venv "$VENV.part" >&2 || {
        # Debian splits venv out of python3.
        apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$VENV.part" >&2
      }
      "$VENV.part/bin/pip" install -q "schemathesis==$VERSION" >&2
      rm -rf "$VENV" && mv "$VENV.part" "$VENV"
      # The venv's scripts name their interpreter by path: fix them after the move.
      sed -i "1s|$VENV.part|$VENV|" "$VENV"/bin/*
    fi
    echo "$ST"
    ;;
  *) echo "usage: $0 ensure" >&2; exit 2 ;;
esac
