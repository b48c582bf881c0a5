#!/bin/sh
# The `ui` service's choice of config, run by the nginx image's /docker-entrypoint.sh before
# nginx starts (compose.yaml mounts it into /docker-entrypoint.d/). It writes two files that
# ui/server.conf includes, into the tmpfs /run/bamboo-ui:
#   listen.conf  `listen 8080;`, or `listen 8080 ssl;` with the certificate and key when
#                BAMBOO_UI_TLS_CERT and BAMBOO_UI_TLS_KEY are given;
#   auth.conf    `auth_basic off;`, or basic auth against /run/bamboo-ui/htpasswd, made from
#                BAMBOO_UI_USER + BAMBOO_UI_PASSWORD or copied from BAMBOO_UI_HTPASSWD_FILE.
# It refuses (exit 1, the reason on stderr, the container stops) a published address that is
# not a loopback one without a login, and any half-given setting. Without it having run,
# nginx does not start: server.conf includes files only this script writes.
#
# POSIX sh, no `exit 0`: the image's entrypoint runs it, and some of its versions source it.
set -eu

ui_fail() {
    echo "bamboo-ui: $*" >&2
    echo "bamboo-ui: not starting; see \"Sharing the UI\" in docs/deployment.md" >&2
    exit 1
}

ui_secrets=/run/secrets/bamboo-ui   # the files compose mounts (/dev/null when not given)
ui_run=/run/bamboo-ui               # a tmpfs: nothing written here reaches the host's disk

# A file named in the env file must have arrived as a non-empty regular file. (Docker creates
# an empty directory where a bind-mounted host path does not exist.)
ui_given_file() {  # $1: variable name, $2: its value (the host path), $3: the mounted file
    [ -f "$3" ] && [ -s "$3" ] \
        || ui_fail "$1=$2 names no non-empty file on the host (Docker mounts a missing path as an empty directory, created there): give an absolute path, or one relative to deploy/compose/ starting with ./"
}

: "${BAMBOO_UI_ADDRESS:?compose sets BAMBOO_UI_ADDRESS, the address the UI is published on}"
ui_user=${BAMBOO_UI_USER:-}
ui_password=${BAMBOO_UI_PASSWORD:-}
ui_htpasswd=${BAMBOO_UI_HTPASSWD_FILE:-}
ui_cert=${BAMBOO_UI_TLS_CERT:-}
ui_key=${BAMBOO_UI_TLS_KEY:-}

case "$BAMBOO_UI_ADDRESS" in
    127.*.*.* | ::1 | "[::1]") ui_loopback=yes ;;
    *) ui_loopback=no ;;
esac
case "$BAMBOO_UI_ADDRESS" in
    127.*[!0-9.]*) ui_loopback=no ;;
esac

mkdir -p "$ui_run"

# --- the login ---
if [ -n "$ui_user$ui_password" ] && [ -n "$ui_htpasswd" ]; then
    ui_fail "set BAMBOO_UI_USER and BAMBOO_UI_PASSWORD, or BAMBOO_UI_HTPASSWD_FILE, not both"
fi
if [ -n "$ui_user$ui_password" ]; then
    [ -n "$ui_user" ] || ui_fail "BAMBOO_UI_PASSWORD is set but BAMBOO_UI_USER is empty"
    [ -n "$ui_password" ] || ui_fail "BAMBOO_UI_USER is set but BAMBOO_UI_PASSWORD is empty"
    case "$ui_user" in
        *:* | *[[:space:]]*) ui_fail "BAMBOO_UI_USER may contain neither ':' nor spaces" ;;
    esac
    command -v openssl >/dev/null || ui_fail "openssl is not in the nginx image"
    # apr1: nginx checks it with its own code, whatever crypt() the image's libc offers.
    ui_hash=$(printf '%s\n' "$ui_password" | openssl passwd -apr1 -stdin) \
        || ui_fail "openssl passwd failed"
    ( umask 077 && printf '%s:%s\n' "$ui_user" "$ui_hash" > "$ui_run/htpasswd" )
    ui_login="user $ui_user"
elif [ -n "$ui_htpasswd" ]; then
    ui_given_file BAMBOO_UI_HTPASSWD_FILE "$ui_htpasswd" "$ui_secrets/htpasswd"
    grep -q '^[^#:][^:]*:.' "$ui_secrets/htpasswd" \
        || ui_fail "BAMBOO_UI_HTPASSWD_FILE=$ui_htpasswd has no user:hash line"
    # A copy, so that the host file may stay readable by root only.
    ( umask 077 && cat "$ui_secrets/htpasswd" > "$ui_run/htpasswd" )
    ui_login="$(grep -c '^[^#:][^:]*:.' "$ui_run/htpasswd") user(s) of BAMBOO_UI_HTPASSWD_FILE"
else
    ui_login=""
fi

if [ -z "$ui_login" ] && [ "$ui_loopback" = no ]; then
    ui_fail "BAMBOO_UI_ADDRESS=$BAMBOO_UI_ADDRESS is not a loopback address and no login is set: anyone who reaches it could launch and delete runs. Set BAMBOO_UI_USER and BAMBOO_UI_PASSWORD (or BAMBOO_UI_HTPASSWD_FILE) in the env file, or publish on 127.0.0.1"
fi

if [ -n "$ui_login" ]; then
    # nginx's workers read the file at each request: readable by their group, nobody else.
    ui_worker=$(sed -n 's/^[[:space:]]*user[[:space:]]\{1,\}\([^;[:space:]]*\).*/\1/p' \
        /etc/nginx/nginx.conf | head -n 1)
    if [ "$(id -u)" = 0 ] && [ -n "$ui_worker" ]; then
        chown "root:$(id -gn "$ui_worker")" "$ui_run/htpasswd"
        chmod 0640 "$ui_run/htpasswd"
    fi
    printf '%s\n' 'auth_basic "Bamboo";' "auth_basic_user_file $ui_run/htpasswd;" \
        > "$ui_run/auth.conf"
else
    printf '%s\n' 'auth_basic off;' > "$ui_run/auth.conf"
fi

# --- TLS ---
if [ -n "$ui_cert" ] || [ -n "$ui_key" ]; then
    [ -n "$ui_cert" ] || ui_fail "BAMBOO_UI_TLS_KEY is set but BAMBOO_UI_TLS_CERT is empty"
    [ -n "$ui_key" ] || ui_fail "BAMBOO_UI_TLS_CERT is set but BAMBOO_UI_TLS_KEY is empty"
    ui_given_file BAMBOO_UI_TLS_CERT "$ui_cert" "$ui_secrets/tls.crt"
    ui_given_file BAMBOO_UI_TLS_KEY "$ui_key" "$ui_secrets/tls.key"
    # Read by nginx's master process (root) at start; nginx names a bad file itself.
    cat > "$ui_run/listen.conf" <<EOF
listen 8080 ssl;
ssl_certificate $ui_secrets/tls.crt;
ssl_certificate_key $ui_secrets/tls.key;
ssl_protocols TLSv1.2 TLSv1.3;
ssl_session_cache shared:bamboo_ui_tls:1m;
# Plain HTTP sent to this port: send the browser to https on the same host and port.
error_page 497 =301 https://\$http_host\$request_uri;
EOF
    ui_scheme=https
else
    printf '%s\n' 'listen 8080;' > "$ui_run/listen.conf"
    ui_scheme=http
fi

echo "bamboo-ui: $ui_scheme, published on $BAMBOO_UI_ADDRESS, login: ${ui_login:-none (loopback only)}"
