#!/bin/bash
# sluice check --connect verifies sink credentials and bucket access without writing data;
# bad credentials or an unreachable server give one line naming the file, tenant and cause.
. "$(dirname "$0")/lib.sh"
job() { # file secret endpoint bucket
    cat >"$T/$1" <<LUA
return {
  tenant = "${1%.lua}",
  source = { plugin = "generator" },
  sink = { plugin = "s3", endpoint = "$3", region = "$S3_REGION", bucket = "$4", prefix = "connect/",
           access_key_id = "$S3_ACCESS_KEY_ID", secret_access_key = "$2", path_style = true,
           max_retries = 1 },
}
LUA
}
job good.lua "$S3_SECRET_ACCESS_KEY" "$S3_ENDPOINT" "$S3_BUCKET"
job badsecret.lua "wrong-secret" "$S3_ENDPOINT" "$S3_BUCKET"
job nobucket.lua "$S3_SECRET_ACCESS_KEY" "$S3_ENDPOINT" "no-such-bucket"
job down.lua "$S3_SECRET_ACCESS_KEY" "http://127.0.0.1:9" "$S3_BUCKET"
before=$(node "$NODE_DIR/s3check.js" --env "$S3ENV" count connect/)
"$SLUICE" check --connect "$T/good.lua" >"$T/out" 2>&1
expect "good credentials: exit 0" [ $? -eq 0 ]
"$SLUICE" check "$T/badsecret.lua" >/dev/null 2>&1
expect "without --connect a wrong secret is not noticed (no connection)" [ $? -eq 0 ]
"$SLUICE" check --connect "$T/badsecret.lua" >"$T/out" 2>&1
expect "wrong secret: exit 1" [ $? -eq 1 ]
expect "wrong secret: one line with tenant and cause" grep -qE "badsecret\.lua(:[0-9]+)?: tenant badsecret: sink \"s3\": .*SignatureDoesNotMatch" "$T/out"
"$SLUICE" check --connect "$T/nobucket.lua" >"$T/out" 2>&1
expect "missing bucket: exit 1" [ $? -eq 1 ]
expect "missing bucket named" grep -q "no-such-bucket" "$T/out"
"$SLUICE" check --connect "$T/down.lua" >"$T/out" 2>&1
expect "unreachable server: exit 1" [ $? -eq 1 ]
expect "unreachable server: one line" [ "$(grep -c 'down.lua' "$T/out")" -eq 1 ]
after=$(node "$NODE_DIR/s3check.js" --env "$S3ENV" count connect/)
expect "no object written by --connect ($before -> $after)" [ "$before" = "$after" ]
finish
