#!/usr/bin/env bash
# `make run`: start pushbind on the embedded store in ./data with a demo app,
# and show how to call it. Ctrl-C stops the server cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

data=${DATA:-./data}
port=${PORT:-8080}
access_id=${ACCESS_ID:-1500001048}
secret_file="$data/demo-secret-key"

mkdir -p "$data"
chmod 700 "$data"
if [[ ! -s "$secret_file" ]]; then
  # The key lives beside the data so that every `make run` prints a working example.
  (umask 077; openssl rand -hex 16 >"$secret_file")
  build/pushbind app add --data "$data" --access-id "$access_id" --secret-key "$(cat "$secret_file")" >/dev/null
fi
secret=$(cat "$secret_file")
base="http://127.0.0.1:$port/v3/device/account"

cat <<EOT
pushbind: demo app $access_id (secret key in $secret_file), data in $data

Bind account "alice" to device token "token-1", then ask which devices alice has:

  curl -s -u $access_id:$secret $base/batchoperate -d '{"operator_type":1,"token_accounts":[{"token":"token-1","account_list":[{"account":"alice"}]}]}'
  curl -s -u $access_id:$secret $base/query -d '{"operator_type":1,"account_list":[{"account":"alice"}]}'

Signature authentication: see docs/API.md and tools/tpns-sign.

The console: http://127.0.0.1:$port/console/ (sign in with AccessId $access_id and the secret key above).

EOT
exec build/pushbind serve --data "$data" --listen "127.0.0.1:$port"
