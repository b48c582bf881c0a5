# Stand-in for the official nginx image (the `ui` service of ../compose.yaml), built by
# ../standin-images.sh only when the pull fails: Debian's nginx and openssl, laid out as the
# official image is, as far as compose.yaml relies on it:
#   * /docker-entrypoint.sh runs the executable /docker-entrypoint.d/*.sh (and sources *.envsh)
#     in version order when the command is nginx, stops at the first that fails, then execs it;
#   * CMD `nginx -g 'daemon off;'`; workers run as user nginx (uid/gid 101);
#   * /etc/nginx/nginx.conf includes /etc/nginx/conf.d/*.conf in its http block;
#   * the access log goes to stdout and the error log to stderr;
#   * `openssl` is installed (the official image has it through ca-certificates).
ARG BASE
FROM ${BASE}
LABEL bamboo.standin=true
RUN groupadd --system --gid 101 nginx \
 && useradd --system --uid 101 --gid nginx --no-create-home --home-dir /nonexistent \
        --shell /bin/false nginx \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx openssl \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled /etc/nginx/sites-available \
 && mkdir -p /docker-entrypoint.d /etc/nginx/conf.d /usr/share/nginx/html \
 && cp /var/www/html/index.nginx-debian.html /usr/share/nginx/html/index.html \
 && chown -R nginx:nginx /var/lib/nginx \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
COPY nginx.conf /etc/nginx/nginx.conf
COPY nginx-default.conf /etc/nginx/conf.d/default.conf
COPY nginx-entrypoint.sh /docker-entrypoint.sh
ENTRYPOINT ["/docker-entrypoint.sh"]
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
