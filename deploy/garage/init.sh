#!/usr/bin/env bash
# Creates moocpipe's buckets and keys in a running Garage node, once; every
# later run only checks and repairs the same state (idempotent).
#
#   buckets  $RAW_BUCKET (default moocpipe-raw)     the studio's uploads
#            $MEDIA_BUCKET (default moocpipe-media) renditions, captions,
#                                                   records, reports, leases/
#   keys     uploader      read+write on the raw bucket, nothing else
#            worker-raw    READ ONLY on the raw bucket, nothing else
#            worker-media  read+write on the media bucket, nothing else
#
# Every key is imported with the ID and secret given in the environment, so
# docker-compose.yml can hand the same values to the workers:
#   UPLOADER_KEY_ID      UPLOADER_SECRET_KEY
#   WORKER_RAW_KEY_ID    WORKER_RAW_SECRET_KEY
#   WORKER_MEDIA_KEY_ID  WORKER_MEDIA_SECRET_KEY
# An ID is GK + 24 hex digits (`printf 'GK%s\n' "$(openssl rand -hex 12)"`),
# a secret 64 hex digits (`openssl rand -hex 32`).
#
# The raw bucket gets the CORS rule the studio's browser uploads need
# (deploy/garage/cors.sh): pages of UPLOAD_ORIGINS (space-separated, default
# http://localhost:8080 http://127.0.0.1:8080, the dashboard's address in
# docker-compose.yml) may PUT parts through presigned URLs and read their
# ETag.
#
# Both buckets also get a lifecycle rule that aborts multipart uploads left
# incomplete for a day (a worker or an uploader killed mid-upload), and
# uploads already older than that are cleaned up now.
#
# The garage CLI reaches the node over RPC: it needs the node's config
# (GARAGE_CONFIG_FILE, default /etc/garage.toml, whose rpc_public_addr names
# the node), GARAGE_RPC_SECRET, and the node's public key, which it reads
# from metadata_dir/node_key.pub (docker-compose.yml mounts the node's
# metadata volume read-only). GARAGE_RPC_HOST=<node-id>@host:port replaces
# the last two.
set -euo pipefail

RAW_BUCKET=${RAW_BUCKET:-moocpipe-raw}
MEDIA_BUCKET=${MEDIA_BUCKET:-moocpipe-media}
GARAGE=${GARAGE_BIN:-garage}
WAIT_SECS=${GARAGE_INIT_WAIT_SECS:-120}
UPLOAD_ORIGINS=${UPLOAD_ORIGINS:-http://localhost:8080 http://127.0.0.1:8080}

# shellcheck source=deploy/garage/cors.sh
. "$(dirname "${BASH_SOURCE[0]}")/cors.sh"

say() { printf 'garage-init: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

g() { "$GARAGE" "$@"; }

# --- the keys given ------------------------------------------------------

check_key() { # ROLE ID SECRET
  local role=$1 id=$2 secret=$3
  [[ $id =~ ^GK[0-9a-f]{24}$ ]] ||
    die "$role key ID '$id' is not GK + 24 lower-case hex digits"
  [[ $secret =~ ^[0-9a-f]{64}$ ]] ||
    die "$role secret is not 64 lower-case hex digits"
  # The placeholders of docker-compose.yml are runs of one repeated byte.
  if [[ ${secret:0:2} == "${secret:2:2}" && ${secret:0:8} == "${secret:8:8}" ]]; then
    say "WARNING: the $role key still has the placeholder secret of docker-compose.yml; change it outside a throw-away test"
  fi
}

: "${UPLOADER_KEY_ID:?}" "${UPLOADER_SECRET_KEY:?}"
: "${WORKER_RAW_KEY_ID:?}" "${WORKER_RAW_SECRET_KEY:?}"
: "${WORKER_MEDIA_KEY_ID:?}" "${WORKER_MEDIA_SECRET_KEY:?}"
check_key uploader "$UPLOADER_KEY_ID" "$UPLOADER_SECRET_KEY"
check_key worker-raw "$WORKER_RAW_KEY_ID" "$WORKER_RAW_SECRET_KEY"
check_key worker-media "$WORKER_MEDIA_KEY_ID" "$WORKER_MEDIA_SECRET_KEY"
if [[ $UPLOADER_KEY_ID == "$WORKER_RAW_KEY_ID" || $UPLOADER_KEY_ID == "$WORKER_MEDIA_KEY_ID" ||
  $WORKER_RAW_KEY_ID == "$WORKER_MEDIA_KEY_ID" ]]; then
  die "the three keys must have three different IDs"
fi

# --- wait for the node -----------------------------------------------------

# --single-node lays out the cluster when the server starts; until then
# `garage health` fails.
waited=0
until g health -q >/dev/null 2>&1; do
  if ((waited >= WAIT_SECS)); then
    g health || true
    die "Garage did not become healthy within ${WAIT_SECS}s"
  fi
  sleep 2
  waited=$((waited + 2))
done
say "Garage is healthy"

# --- buckets ---------------------------------------------------------------

bucket_id() { # NAME -> the bucket's hex ID, or nothing
  g json-api GetBucketInfo "$(jq -cn --arg a "$1" '{globalAlias: $a}')" 2>/dev/null |
    jq -r '.id // empty'
}

ensure_bucket() { # NAME
  if [[ -n $(bucket_id "$1") ]]; then
    say "bucket $1 exists"
  else
    g bucket create "$1" >/dev/null
    say "bucket $1 created"
  fi
}

# Aborts incomplete multipart uploads after a day (Garage's lifecycle
# worker runs daily). Other lifecycle rules someone added are kept.
ensure_abort_rule() { # NAME
  local id info body
  id=$(bucket_id "$1")
  [[ -n $id ]] || die "bucket $1 vanished"
  info=$(g json-api GetBucketInfo "$(jq -cn --arg i "$id" '{id: $i}')")
  if jq -e '(.lifecycleRules // []) | any(.ID == "abort-incomplete-multipart-uploads")' \
    <<<"$info" >/dev/null; then
    say "bucket $1 has its abort-incomplete-multipart-uploads rule"
    return 0
  fi
  body=$(jq -c --arg i "$id" '{
      id: $i,
      body: {
        lifecycleRules: ((.lifecycleRules // []) + [{
          ID: "abort-incomplete-multipart-uploads",
          Status: "Enabled",
          AbortIncompleteMultipartUpload: {DaysAfterInitiation: 1}
        }])
      }
    }' <<<"$info")
  g json-api UpdateBucket "$body" >/dev/null
  say "bucket $1: lifecycle rule abort-incomplete-multipart-uploads (1 day) added"
}

# --- keys ------------------------------------------------------------------

ensure_key() { # NAME ID SECRET
  local name=$1 id=$2 secret=$3 existing
  if existing=$(g json-api GetKeyInfo \
    "$(jq -cn --arg i "$id" '{id: $i, showSecretKey: true}')" 2>/dev/null); then
    if [[ $(jq -r '.secretAccessKey' <<<"$existing") != "$secret" ]]; then
      die "key $id ($name) exists with another secret. Garage never re-imports a key ID, not even a deleted one: give this key a new ID (and keep the secret), or put the old secret back"
    fi
    say "key $id ($name) exists"
  else
    g key import --yes -n "$name" "$id" "$secret" >/dev/null
    say "key $id ($name) imported"
  fi
}

# Sets exactly these permissions of KEY on BUCKET: READ, WRITE and OWNER are
# each "yes" or "no".
set_permissions() { # BUCKET KEY READ WRITE OWNER
  local bucket=$1 key=$2 allow=() deny=()
  [[ $3 == yes ]] && allow+=(--read) || deny+=(--read)
  [[ $4 == yes ]] && allow+=(--write) || deny+=(--write)
  [[ $5 == yes ]] && allow+=(--owner) || deny+=(--owner)
  if ((${#deny[@]})); then
    g bucket deny "${deny[@]}" --key "$key" "$bucket" >/dev/null
  fi
  if ((${#allow[@]})); then
    g bucket allow "${allow[@]}" --key "$key" "$bucket" >/dev/null
  fi
  say "$key on $bucket: read=$3 write=$4 owner=$5"
}

ensure_bucket "$RAW_BUCKET"
ensure_bucket "$MEDIA_BUCKET"

ensure_key moocpipe-uploader "$UPLOADER_KEY_ID" "$UPLOADER_SECRET_KEY"
ensure_key moocpipe-worker-raw "$WORKER_RAW_KEY_ID" "$WORKER_RAW_SECRET_KEY"
ensure_key moocpipe-worker-media "$WORKER_MEDIA_KEY_ID" "$WORKER_MEDIA_SECRET_KEY"

#               bucket          key                     read write owner
set_permissions "$RAW_BUCKET"   "$UPLOADER_KEY_ID"      yes  yes   no
set_permissions "$MEDIA_BUCKET" "$UPLOADER_KEY_ID"      no   no    no
set_permissions "$RAW_BUCKET"   "$WORKER_RAW_KEY_ID"    yes  no    no
set_permissions "$MEDIA_BUCKET" "$WORKER_RAW_KEY_ID"    no   no    no
set_permissions "$RAW_BUCKET"   "$WORKER_MEDIA_KEY_ID"  no   no    no
set_permissions "$MEDIA_BUCKET" "$WORKER_MEDIA_KEY_ID"  yes  yes   no

# shellcheck disable=SC2086 # one origin per word
allow_browser_uploads g "$RAW_BUCKET" $UPLOAD_ORIGINS ||
  die "could not set the CORS rule of $RAW_BUCKET"
say "bucket $RAW_BUCKET: browsers on $UPLOAD_ORIGINS may upload takes (CORS)"

ensure_abort_rule "$RAW_BUCKET"
ensure_abort_rule "$MEDIA_BUCKET"
g bucket cleanup-incomplete-uploads --older-than 1d "$RAW_BUCKET" "$MEDIA_BUCKET" >&2

say "done: buckets $RAW_BUCKET and $MEDIA_BUCKET, keys $UPLOADER_KEY_ID (uploader), $WORKER_RAW_KEY_ID (workers, raw read-only), $WORKER_MEDIA_KEY_ID (workers, media)"
