# redis-server as user redis with Debian's /etc/redis/redis.conf, changed only to run in the
# foreground under docker: no daemon, every address, no protected mode, logs on stdout, and an
# explicit save point so it writes /var/lib/redis/dump.rdb when it stops. /run/redis is what
# systemd's RuntimeDirectory= would create for its pid file. The data dir is a declared VOLUME.
ARG BASE=rofs-audit-real/base:bookworm-2
FROM ${BASE}
LABEL dev.rofs-audit.test=1
RUN sed -i -E \
      -e 's/^daemonize .*/daemonize no/' \
      -e 's/^supervised .*/supervised no/' \
      -e 's/^bind .*/bind 0.0.0.0/' \
      -e 's/^protected-mode .*/protected-mode no/' \
      -e 's/^logfile .*/logfile ""/' \
      /etc/redis/redis.conf \
 && printf '\n# rofs-audit-real: snapshot after 60 s if a key changed, and at shutdown.\nsave 60 1\n' \
      >>/etc/redis/redis.conf \
 && install -d -o redis -g redis -m 2755 /run/redis
VOLUME /var/lib/redis
USER redis
EXPOSE 6379
CMD ["redis-server", "/etc/redis/redis.conf"]
