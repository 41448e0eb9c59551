# Shared by the scripts in this folder: source it, don't run it.

# The repository's top folder.
MOOCPIPE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MOOCPIPE_ROOT

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Rust: moocpipe needs rustc >= 1.92 (gstreamer-rs 0.25). Debian's own rustc
# is older, so a missing or old toolchain is an error with directions.
require_rust() {
  if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "moocpipe needs Rust >= 1.92 and cargo. Install them with rustup (https://rustup.rs), then run this again." >&2
    exit 1
  fi
  local v
  v=$(rustc --version | awk '{print $2}')
  if [ "$(printf '%s\n1.92.0\n' "$v" | sort -V | head -1)" != "1.92.0" ]; then
    echo "moocpipe needs Rust >= 1.92; this machine has $v. Run 'rustup update stable'." >&2
    exit 1
  fi
}
