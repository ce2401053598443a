# Debian's nginx-light as Debian configures it, run as root in the foreground. At start it opens
# /var/log/nginx/{error,access}.log, creates its temp dirs under /var/lib/nginx and writes
# /run/nginx.pid; the default site serves /var/www/html.
ARG BASE=rofs-audit-real/base:bookworm-2
FROM ${BASE}
LABEL dev.rofs-audit.test=1
EXPOSE 80
CMD ["nginx", "-g", "daemon off;"]
