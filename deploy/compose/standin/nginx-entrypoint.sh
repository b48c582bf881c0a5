#!/bin/sh
# The official nginx image's entrypoint contract, for the stand-in. When the command is nginx
# (or nginx-debug): every file in /docker-entrypoint.d/, in version order, is run if it is an
# executable *.sh, sourced if it is an executable *.envsh, otherwise skipped; the first one that
# fails stops the container with its status. Then the command is exec'd, whatever it is.
set -e

if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
    find /docker-entrypoint.d/ -follow -type f -print | sort -V | while read -r f; do
        case "$f" in
            *.envsh)
                if [ -x "$f" ]; then echo "$0: sourcing $f"; . "$f"
                else echo "$0: ignoring $f, not executable"; fi ;;
            *.sh)
                if [ -x "$f" ]; then echo "$0: launching $f"; "$f"
                else echo "$0: ignoring $f, not executable"; fi ;;
            *) echo "$0: ignoring $f" ;;
        esac
    done
    echo "$0: configuration complete; ready for start up"
fi

exec "$@"
