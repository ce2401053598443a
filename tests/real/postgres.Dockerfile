# Debian's PostgreSQL 15 as user postgres, run the way people run it in a container: the
# postmaster in the foreground on the cluster the package created at install time
# (pg_createcluster 15 main: data in /var/lib/postgresql/15/main, config in
# /etc/postgresql/15/main), listening on every address, logging to stderr. Its pid file and
# Unix socket go to /run/postgresql (Debian's external_pid_file and unix_socket_directories):
# the package's scripts leave that directory in the image, 2775 postgres:postgres as systemd's
# tmpfiles.d/postgresql-common.conf would make it, so nothing creates it here (checked).
# No VOLUME: the package ships the data dir in the image.
ARG BASE=rofs-audit-real/base:bookworm-2
FROM ${BASE}
LABEL dev.rofs-audit.test=1
# Password-less TCP connections from 127.0.0.1 only (Debian asks for a password there), so that
# `psql -h 127.0.0.1 -U postgres` inside the container checks the TCP listener. Nothing else of
# Debian's pg_hba.conf changes (peer on the socket, scram-sha-256 from ::1 and elsewhere).
RUN test -x /usr/lib/postgresql/15/bin/postgres \
 && test -s /var/lib/postgresql/15/main/PG_VERSION \
 && sed -i -E 's|^host( +)all( +)all( +)127\.0\.0\.1/32( +)scram-sha-256|host\1all\2all\3127.0.0.1/32\4trust|' \
      /etc/postgresql/15/main/pg_hba.conf \
 && grep -qE '^host +all +all +127\.0\.0\.1/32 +trust' /etc/postgresql/15/main/pg_hba.conf \
 && test "$(stat -c %U:%G:%a /run/postgresql)" = postgres:postgres:2775
USER postgres
EXPOSE 5432
CMD ["/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/15/main", \
     "-c", "config_file=/etc/postgresql/15/main/postgresql.conf", "-c", "listen_addresses=*"]
