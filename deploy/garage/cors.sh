#!/usr/bin/env bash
# The CORS rule the studio's browser uploads need on the raw bucket: pages
# of the dashboard's origin(s) may PUT parts through presigned URLs and read
# each answer's ETag. Nothing else is opened: the URLs carry the
# signatures, and only PUT is allowed cross-origin. Other CORS rules of the
# bucket are kept; the one with ID moocpipe-browser-uploads is replaced.
#
# Sourced by deploy/garage/init.sh (the Compose stack's garage-init) and
# scripts/garage.sh (`cors`, for tests and local runs). Garage sets it
# through its admin API (UpdateBucket corsRules), the same rule an owner
# key could send with S3's PutBucketCors; deploy/README.md has the
# equivalents for MinIO and AWS S3.
#
#   allow_browser_uploads GARAGE BUCKET ORIGIN...
#     GARAGE: a command or function that runs the garage CLI against the
#     node (e.g. `g` in init.sh); needs jq.

UPLOAD_CORS_RULE_ID=moocpipe-browser-uploads

allow_browser_uploads() { # GARAGE BUCKET ORIGIN...
  local garage=$1 bucket=$2 info body
  shift 2
  if (($# == 0)); then
    echo "allow_browser_uploads: no origin given (e.g. https://mooc.university.kz)" >&2
    return 2
  fi
  info=$("$garage" json-api GetBucketInfo "$(jq -cn --arg a "$bucket" '{globalAlias: $a}')") ||
    return 1
  body=$(jq -c --arg rule "$UPLOAD_CORS_RULE_ID" '{
      id: .id,
      body: {
        corsRules: (((.corsRules // []) | map(select(.ID != $rule))) + [{
          ID: $rule,
          AllowedOrigin: $ARGS.positional,
          AllowedMethod: ["PUT"],
          AllowedHeader: ["*"],
          ExposeHeader: ["ETag"],
          MaxAgeSeconds: 3600
        }])
      }
    }' --args "$@" <<<"$info") || return 1
  "$garage" json-api UpdateBucket "$body" >/dev/null
}
