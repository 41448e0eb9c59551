#!/usr/bin/env bash
# RabbitMQ for the distributed mode's tests and for a developer machine:
# Debian's rabbitmq-server (3.10) on 127.0.0.1:5672, user guest/guest.
#
#   scripts/rabbitmq.sh ensure   make sure a broker answers on 127.0.0.1:5672:
#                                nothing to do if one does; else start the
#                                installed rabbitmq-server; else install it
#                                (apt-get, with sudo when not root) and start it.
#                                Waits until it answers. Idempotent.
#   scripts/rabbitmq.sh status   says whether a broker answers (exit 0) or not (1).
#   scripts/rabbitmq.sh restart  stops and starts the broker application
#                                (every connection drops; durable queues and
#                                their messages stay) and waits until it
#                                answers: the fault suite's "broker restart".
#   scripts/rabbitmq.sh pid      prints the broker's OS pid (the fault suite
#                                freezes it with SIGSTOP).
#
# A fresh install is configured to listen on the loopback interface only
# (nothing else on this machine needs to reach it); an existing configuration
# is left alone. MOOCPIPE_RABBITMQ_WAIT (seconds, default 90) bounds the wait.
set -euo pipefail

HOST=127.0.0.1
PORT=5672
WAIT="${MOOCPIPE_RABBITMQ_WAIT:-90}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

answers() {
  # bash's /dev/tcp: no client package needed.
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null
}

wait_until_answering() {
  local waited=0
  while ! answers; do
    if [ "$waited" -ge "$WAIT" ]; then
      echo "rabbitmq: no answer on $HOST:$PORT after ${WAIT}s; see /var/log/rabbitmq/" >&2
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  say "RabbitMQ answers on $HOST:$PORT (after ${waited}s)"
}

# Loopback only, and a node name that does not depend on the host name
# resolving. Written before the package is installed so that its first start
# already uses it; never overwrites an existing file.
write_loopback_config() {
  sudo_if_needed mkdir -p /etc/rabbitmq
  if [ ! -e /etc/rabbitmq/rabbitmq-env.conf ]; then
    printf '%s\n' 'NODENAME=rabbit@localhost' 'ERL_EPMD_ADDRESS=127.0.0.1' \
      'export ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"' |
      sudo_if_needed tee /etc/rabbitmq/rabbitmq-env.conf >/dev/null
  fi
  if [ ! -e /etc/rabbitmq/rabbitmq.conf ]; then
    echo "listeners.tcp.local = $HOST:$PORT" | sudo_if_needed tee /etc/rabbitmq/rabbitmq.conf >/dev/null
  fi
}

server_bin() {
  command -v rabbitmq-server 2>/dev/null || { [ -x /usr/sbin/rabbitmq-server ] && echo /usr/sbin/rabbitmq-server; }
}

start_server() {
  say "starting rabbitmq-server -detached"
  # The Debian wrapper drops to the rabbitmq user by itself when run as root.
  sudo_if_needed "$(server_bin)" -detached >/dev/null 2>&1 || true
  wait_until_answering
}

ensure() {
  if answers; then
    say "RabbitMQ already answers on $HOST:$PORT: nothing to do"
    return 0
  fi
  if [ -z "$(server_bin)" ]; then
    say "installing rabbitmq-server (apt-get)"
    write_loopback_config
    export DEBIAN_FRONTEND=noninteractive
    sudo_if_needed apt-get update -qq
    sudo_if_needed apt-get install -y -qq -o Dpkg::Options::=--force-confold rabbitmq-server >/dev/null
    # The package may have started it already (where an init system runs).
    if answers; then
      say "RabbitMQ installed and started by the package; answers on $HOST:$PORT"
      return 0
    fi
  else
    say "rabbitmq-server is installed but not answering"
  fi
  start_server
}

case "${1:-}" in
  ensure) ensure ;;
  status)
    if answers; then echo "RabbitMQ answers on $HOST:$PORT"; else echo "no RabbitMQ on $HOST:$PORT"; exit 1; fi
    ;;
  restart)
    say "restarting RabbitMQ (stop_app, start_app)"
    sudo_if_needed rabbitmqctl -q stop_app >/dev/null
    sudo_if_needed rabbitmqctl -q start_app >/dev/null
    wait_until_answering
    ;;
  pid)
    sudo_if_needed rabbitmqctl -q eval 'os:getpid().' | tr -dc '0-9'
    echo
    ;;
  *)
    echo "usage: $0 ensure|status|restart|pid" >&2
    exit 2
    ;;
esac
