# Debian's apache2 started the way Debian does: apache2ctl reads /etc/apache2/envvars
# (APACHE_RUN_DIR=/var/run/apache2, APACHE_LOCK_DIR=/var/lock/apache2, logs in /var/log/apache2)
# and creates the run and lock dirs. In bookworm /var/run -> /run and /var/lock -> /run/lock are
# symlinks, so those writes land in /run.
ARG BASE=rofs-audit-real/base:bookworm-2
FROM ${BASE}
LABEL dev.rofs-audit.test=1
EXPOSE 80
CMD ["apache2ctl", "-D", "FOREGROUND"]
