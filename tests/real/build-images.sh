#!/usr/bin/env bash
# Builds images of real server software from Debian bookworm packages, without any registry:
#   rofs-audit-real/base:bookworm-2  debootstrap'd Debian with the servers below (docker import)
#   rofs-audit-real/nginx:2        nginx-light as root, Debian's config
#   rofs-audit-real/apache2:2      apache2ctl -D FOREGROUND with Debian's envvars (/var/run, /var/lock)
#   rofs-audit-real/mosquitto:2    the MQTT broker as user mosquitto, persistence on
#   rofs-audit-real/redis:2        redis-server as user redis, VOLUME /var/lib/redis, save on
#   rofs-audit-real/pyapp:2        Flask under gunicorn (PyPI wheels), uid 1000, a 503 readiness window
#   rofs-audit-real/postgres:2     PostgreSQL 15 as user postgres on the cluster the package created
#   rofs-audit-real/notes:2        Flask under gunicorn, uid 1000, SQLite db in /app, a key in $HOME
# The base keeps every file the packages install or their scripts leave (empty logs, the
# initialized cluster, /run): tests see what a user who runs `apt-get install` in a Dockerfile sees.
# Only missing tags are built; remove a tag (docker rmi) to rebuild it (and the base: all of them).
# Downloads (rootfs tarball, wheels) are cached in $SEED_CACHE, outside the repo.
# --verify also runs each app image and checks that it answers with a writable root, that it
# fails with --read-only alone (redis aside), that it answers with the read-only flags found by
# hand (README.md) and that the state of the broker and the databases outlives the container.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BASE=rofs-audit-real/base:bookworm-2
APPS=(nginx apache2 mosquitto redis pyapp postgres notes)
TAG=2
LABEL=dev.rofs-audit.test=1
PACKAGES=nginx-light,apache2,mosquitto,mosquitto-clients,redis-server,postgresql,python3,python3-venv
# What rootfs_tarball does to the debootstrap'd tree; change it when that changes.
RECIPE=keep-package-files-1

# shellcheck source=tests/lib/images.sh
source "$HERE/../lib/images.sh"
parse_args "$@"
make_work rofs-audit-real
image_of() { echo "rofs-audit-real/$1:$TAG"; }
# Named after the package list and the recipe, so a change of either builds a new tarball.
TARBALL=$SEED_CACHE/rootfs-real-bookworm-$(printf '%s\n' "$PACKAGES" "$RECIPE" | sha256sum | cut -c1-12).tar

rootfs_tarball() {
  local dir=$WORK/rootfs mirror left
  mirror=$(debian_mirror)
  log "debootstrap bookworm (minbase + $PACKAGES) from $mirror"
  # The packages' postinst scripts call invoke-rc.d, which starts nothing here: no systemd
  # and no runlevel in a chroot. Checked below all the same.
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$dir" "$mirror" \
    >"$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; return 1; }
  left=$(chroot_pids "$dir")
  if [[ -n $left ]]; then
    echo "a package started a daemon in the chroot (pids $left):" >&2
    for p in $left; do tr '\0' ' ' <"/proc/$p/cmdline" >&2; echo >&2; done
    return 1
  fi
  # Only apt's download state goes: the package lists and the .debs, which no package owns and
  # which a Dockerfile removes after its `apt-get install`. Nothing the packages install or
  # their scripts leave is deleted: not the empty logs they ship (/var/log/nginx/*.log owned by
  # www-data, /var/log/apache2/*.log by root:adm), not docs or locales, not what they leave in
  # /run (/run/postgresql), not postgresql's initialized cluster. A `RUN apt-get install` keeps
  # all of that too, and the tests must see what users' images hold.
  rm -rf "$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/*
  mkdir -p "$SEED_CACHE"
  tar --numeric-owner -C "$dir" -cf "$TARBALL.partial" .
  mv "$TARBALL.partial" "$TARBALL"
}

# Copies the build context of app $1 into $2.
context() {
  local app=$1 ctx=$2 req n v
  mkdir -p "$ctx"
  cp "$HERE/$app.Dockerfile" "$ctx/Dockerfile"
  case $app in
    mosquitto) cp "$HERE/mosquitto/docker.conf" "$ctx/" ;;
    pyapp|notes)
      # notes uses pyapp's pinned wheels.
      req=$HERE/pyapp/requirements.txt
      timed wheels "$req" pyapp/requirements.txt
      mkdir -p "$ctx/wheels"
      cp "$req" "$ctx/"
      if [[ $app == pyapp ]]; then cp "$HERE/pyapp/app.py" "$ctx/"; else cp "$HERE/notes/notes.py" "$ctx/"; fi
      # Only the pinned wheels go in: the cache may hold other versions.
      sed -nE 's/^([A-Za-z0-9_.-]+)==([^ ]+).*/\1 \2/p' "$req" | while read -r n v; do
        n=$(tr '[:upper:]-' '[:lower:]_' <<<"$n")
        find "$SEED_CACHE/wheels" -maxdepth 1 -iname "${n}-${v}-*.whl" -exec cp {} "$ctx/wheels/" \;
      done
      ;;
  esac
}

build_app() {
  local app=$1 tag
  tag=$(image_of "$app")
  context "$app" "$WORK/ctx-$app"
  log "docker build $tag"
  timed docker_build "$tag" "$WORK/ctx-$app"
}

# Starts a labelled container into $CID, publishing $1 on 127.0.0.1, and records it for cleanup.
start() {
  local port=$1
  shift
  CID=$(docker run -d --label "$LABEL" -p "127.0.0.1::$port" "$@")
  CONTAINERS+=("$CID")
}

# Creates a labelled named volume into $VOL and records it for cleanup.
new_volume() {
  VOL=$(docker volume create --label "$LABEL" "rofs-audit-real-$1-$$")
  VOLUMES+=("$VOL")
}

# The uid and gid of the image's user (USER), as tmpfs options: uid=N,gid=M.
ids_of() {
  # shellcheck disable=SC2016 # expanded in the container
  docker run --rm --network none --entrypoint sh "$(image_of "$1")" -c 'echo uid=$(id -u),gid=$(id -g)'
}

# Prints the body of GET path on container port $2 (after http_status found the server up).
http_body() {
  curl -sS "http://$(docker port "$1" "$2/tcp" | head -n1)$3"
}

# Runs a command inside the container (the clients are in the image) until it succeeds, for up
# to 15s, and prints ok with its output.
exec_check() {
  local id=$1 i out
  shift
  for ((i = 0; i < 30; i++)); do
    running "$id" || { echo exited; return; }
    if out=$(docker exec "$id" "$@" 2>/dev/null); then echo "ok $out"; return; fi
    sleep 0.5
  done
  echo timeout
}

# shellcheck disable=SC2016 # the topic is literally $SYS/...
MQTT_CHECK=(mosquitto_sub -h 127.0.0.1 -p 1883 -t '$SYS/broker/version' -C 1 -W 3)
REDIS_CHECK=(redis-cli -h 127.0.0.1 -p 6379 ping)
# Over TCP, which the image's pg_hba.conf trusts from 127.0.0.1 (Unix socket: peer).
PSQL=(psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atq)

# The container port of an app.
port_of() {
  case $1 in
    nginx|apache2) echo 80 ;;
    mosquitto) echo 1883 ;;
    redis) echo 6379 ;;
    pyapp|notes) echo 8000 ;;
    postgres) echo 5432 ;;
  esac
}

# Checks that the app in $CID answers; prints what it saw, returns non-zero if not.
answers() {
  local app=$1 st
  case $app in
    nginx|apache2)
      st=$(http_status "$CID" 80 /); echo "    GET /: $st"; [[ $st == 200 ]] ;;
    mosquitto)
      st=$(exec_check "$CID" "${MQTT_CHECK[@]}"); echo "    mosquitto_sub \$SYS/broker/version: $st"
      [[ $st == ok* ]] ;;
    redis)
      st=$(exec_check "$CID" "${REDIS_CHECK[@]}"); echo "    redis-cli ping: $st"
      [[ $st == "ok PONG" ]] ;;
    pyapp)
      st=$(http_status "$CID" 8000 /health); echo "    GET /health: $st"; [[ $st == 200 ]] || return 1
      sleep 0.3
      st=$(http_status "$CID" 8000 /health/ready); echo "    GET /health/ready: $st"
      [[ $st == 200 ]] ;;
    postgres)
      st=$(exec_check "$CID" "${PSQL[@]}" -c 'select 1'); echo "    psql -h 127.0.0.1 select 1: $st"
      [[ $st == "ok 1" ]] ;;
    notes)
      st=$(http_status "$CID" 8000 /health); echo "    GET /health: $st"; [[ $st == 200 ]] || return 1
      st=$(curl -sS -o /dev/null -w '%{http_code}' -d text=hello \
             "http://$(docker port "$CID" 8000/tcp | head -n1)/notes")
      echo "    POST /notes: $st"; [[ $st == 201 ]] ;;
  esac
}

# The `docker run` flags found by hand that make app $1 run read-only (tests/real/README.md);
# $2 (and $3) are the volumes for its state, where it has some.
readonly_flags() {
  local app=$1 vol=${2:-} vol2=${3:-} ids
  case $app in
    nginx) echo "--tmpfs /run --tmpfs /var/lib/nginx --tmpfs /var/log/nginx" ;;
    apache2) echo "--tmpfs /run/apache2 --tmpfs /run/lock/apache2 --tmpfs /var/log/apache2" ;;
    mosquitto)
      ids=$(ids_of mosquitto)
      echo "--tmpfs /run/mosquitto:$ids --tmpfs /var/log/mosquitto:$ids -v $vol:/var/lib/mosquitto" ;;
    redis) echo "-v $vol:/var/lib/redis" ;;
    pyapp) echo "--tmpfs /tmp --tmpfs /home/app/.gunicorn:uid=1000,gid=1000" ;;
    postgres) echo "--tmpfs /run/postgresql:$(ids_of postgres) -v $vol:/var/lib/postgresql" ;;
    notes) echo "--tmpfs /tmp -v $vol:/app -v $vol2:/home/app" ;;
  esac
}

# Volumes the app's state needs in readonly_flags.
volumes_of() {
  case $1 in
    mosquitto|redis|postgres) echo 1 ;;
    notes) echo 2 ;;
    *) echo 0 ;;
  esac
}

# Stops $CID as docker does (SIGTERM, then SIGKILL after 5s) and prints what is left to see.
stop_and_show() {
  docker stop -t 5 "$CID" >/dev/null
  echo "    exit code after docker stop: $(docker inspect -f '{{.State.ExitCode}}' "$CID")"
  docker diff "$CID" | sort | sed 's/^/    diff: /'
  docker logs "$CID" 2>&1 | tail -n 5 | sed 's/^/    log: /'
}

verify() {
  local fail=0 app img port st i token flags=() vols=()
  for app in "${APPS[@]}"; do
    img=$(image_of "$app")
    port=$(port_of "$app")
    log "verify $img, writable root"
    start "$port" "$img"
    answers "$app" || fail=1
    stop_and_show

    log "verify $img, --read-only with no mount"
    start "$port" --read-only "$img"
    if [[ $app == redis ]]; then
      # Its data dir is a VOLUME, which docker keeps writable: it runs as it is.
      answers "$app" || fail=1
    else
      sleep 3
      if running "$CID"; then echo "    still running: expected it to exit"; fail=1; fi
    fi
    docker logs "$CID" 2>&1 | tail -n 12 | sed 's/^/    log: /'

    vols=()
    for ((i = 0; i < $(volumes_of "$app"); i++)); do new_volume "$app-$i"; vols+=("$VOL"); done
    read -ra flags <<<"$(readonly_flags "$app" "${vols[@]}")"
    log "verify $img, --read-only ${flags[*]}"
    start "$port" --read-only "${flags[@]}" "$img"
    answers "$app" || fail=1
    case $app in
      mosquitto) docker exec "$CID" mosquitto_pub -h 127.0.0.1 -t rofs/kept -r -q 1 -m kept ;;
      redis) docker exec "$CID" redis-cli set rofs:kept kept >/dev/null ;;
      postgres)
        docker exec "$CID" "${PSQL[@]}" -c 'create table kept (v text)' \
          -c "insert into kept values ('kept')" ;;
      notes)
        curl -sS -o /dev/null -d text=kept "http://$(docker port "$CID" 8000/tcp | head -n1)/notes"
        token=$(http_body "$CID" 8000 /token | sed -nE 's/.*"token": *"([^"]+)".*/\1/p') ;;
    esac
    stop_and_show
    if ((${#vols[@]})); then
      # The state survives a new container on the same volumes.
      start "$port" --read-only "${flags[@]}" "$img"
      case $app in
        mosquitto) st=$(exec_check "$CID" mosquitto_sub -h 127.0.0.1 -t rofs/kept -C 1 -W 3) ;;
        redis) st=$(exec_check "$CID" redis-cli get rofs:kept) ;;
        postgres) st=$(exec_check "$CID" "${PSQL[@]}" -c 'select v from kept') ;;
        notes)
          # The note in the database, and a token signed with the key made by the first one.
          st=$(http_status "$CID" 8000 /health)
          if [[ $st == 200 ]] && http_body "$CID" 8000 /notes | grep -q '"text": *"kept"'; then
            st=$(http_status "$CID" 8000 "/token/check?t=$token")
            echo "    token of the first container: $st"
            [[ $st == 200 ]] && st="ok kept"
          fi ;;
      esac
      echo "    kept across containers on volumes ${vols[*]}: $st"
      [[ $st == "ok kept" ]] || fail=1
    fi
  done
  ((fail == 0)) || { echo "verification FAILED" >&2; return 1; }
  log "verified"
}

T0=$EPOCHREALTIME
# The apps are built from the base, so a fresh base makes them stale.
stale=0
if have_image "$BASE"; then
  log "$BASE: present"
else
  if [[ -s $TARBALL ]]; then log "rootfs tarball: cached"; else timed rootfs_tarball; fi
  log "docker import $BASE"
  timed import_base "$TARBALL"
  stale=1
fi
for app in "${APPS[@]}"; do
  if ((stale)) || ! have_image "$(image_of "$app")"; then
    # An app built on an older base goes, and with it that base, rather than left dangling.
    docker rmi "$(image_of "$app")" >/dev/null 2>&1 || true
    build_app "$app"
  else
    log "$(image_of "$app"): present"
  fi
done
awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "==> images ready in %.1fs\n", b - a }'
docker image ls --format '    {{.Repository}}:{{.Tag}}  {{.Size}}' --filter 'reference=rofs-audit-real/*'
((VERIFY == 0)) || verify
