# The Mosquitto broker as its own user, with Debian's /etc/mosquitto/mosquitto.conf
# (persistence true, persistence_location /var/lib/mosquitto/, log_dest file
# /var/log/mosquitto/mosquitto.log, pid_file /run/mosquitto/mosquitto.pid) plus a listener for
# everyone. It saves its store, /var/lib/mosquitto/mosquitto.db, when it stops. It writes its
# pid file even in the foreground and exits when it cannot: /run/mosquitto is what Debian's
# systemd unit (and init script) creates for it before the start.
ARG BASE=rofs-audit-real/base:bookworm-2
FROM ${BASE}
LABEL dev.rofs-audit.test=1
COPY docker.conf /etc/mosquitto/conf.d/docker.conf
RUN install -d -o mosquitto -g mosquitto -m 0755 /run/mosquitto
USER mosquitto
EXPOSE 1883
CMD ["mosquitto", "-c", "/etc/mosquitto/mosquitto.conf"]
