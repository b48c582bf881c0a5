# Stand-in for python:3.11-slim, built by ../standin-images.sh only when the pull fails.
ARG BASE
FROM ${BASE}
LABEL bamboo.standin=true
# The host's CA bundle, so that TLS through the host's network (pip → PyPI) is trusted.
COPY host-ca.crt /usr/local/share/ca-certificates/host-ca.crt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 python3-venv ca-certificates \
 && update-ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /usr/local/python
# First on PATH like the official image's /usr/local/bin: `pip install` works as root.
ENV PATH=/usr/local/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
