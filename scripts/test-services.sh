# shellcheck shell=bash disable=SC2016,SC2317
# (SC2016: the single-quoted bash -c/su -c bodies expand in the child, on purpose.
#  SC2317: `exit` after `return` is the fallback for when it was not sourced.)
# Make PostgreSQL and Redis reachable for the test suite, then export
#   ARTBOARD_TEST_PG_URL     admin URL (asyncpg form) on which tests may CREATE DATABASE
#   ARTBOARD_TEST_REDIS_URL  redis URL
#
# Usage (from the repo root, as part of the test command):
#   . scripts/test-services.sh && pytest ...
#
# It is sourced, not executed, so the exports reach the caller's shell. That is
# also why it never calls `exit`, never sets -e, and cleans up its own helper
# functions/variables: it must not change the caller's shell beyond the exports.
#
# Strategy, per service:
#   1. A URL the caller already exported wins; we do not even probe it.
#   2. A server on the standard port (5432 / 6379) is used if it answers -- the
#      usual dev machine/CI case, and it costs well under a second.
#   3. Otherwise a private, throwaway instance on 55432 / 56379 is started (and
#      installed via apt first on a bare Debian 12), or reused if an earlier
#      run left it running.
#
# ARTBOARD_TEST_FORCE_PRIVATE=1 skips step 2, to exercise the fresh-machine path
# on a machine that does have system services.
#
# The private instances are left running on purpose, so the next test run
# starts instantly. To get rid of them:
#   runuser -u postgres -- /usr/lib/postgresql/<ver>/bin/pg_ctl -D <datadir> stop
#   redis-cli -p 56379 shutdown
#   rm -rf .test-services /tmp/artboard-test-pg

# Sourcing from sh/dash would fail in confusing ways further down.
if [ -z "${BASH_VERSION:-}" ]; then
    echo "test-services: this file needs bash (source it from bash)" >&2
    return 1 2>/dev/null || exit 1
fi
# Executing it would do all the work and then throw the exports away.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "test-services: source this file ('. ${0}'), do not execute it" >&2
    exit 2
fi

_ts_host=127.0.0.1
_ts_pg_port_system=5432
_ts_pg_port_private=55432
_ts_redis_port_system=6379
_ts_redis_port_private=56379
_ts_wait_seconds=30
_ts_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ts_state="$_ts_repo/.test-services"   # gitignored
_ts_apt_updated=0

_ts_say() { echo "test-services: $*" >&2; }

# On failure, show why right away instead of only pointing at a file.
_ts_log_tail() {  # file
    [[ -r $1 ]] && tail -n 5 "$1" | sed 's/^/test-services:   | /' >&2
    return 0
}

# Bare TCP probe for when the client tools are not installed (yet). `timeout`
# guards against a filtering firewall; on loopback a closed port fails at once.
_ts_tcp_open() {
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# The privileged helper: postgres refuses to run as root, and runuser (from
# util-linux, always present on Debian) needs no PAM/tty. cd / because the
# caller's cwd may not be readable by postgres, which makes initdb/pg_ctl warn.
_ts_as_postgres() {
    if command -v runuser >/dev/null 2>&1; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && su -s /bin/sh -c '"$0" "$@"' postgres -- "$@")
    fi
}

_ts_apt_install() {
    if [[ $(id -u) -ne 0 ]]; then
        _ts_say "need to apt-get install $* but not running as root; install it or export the URL variables"
        return 1
    fi
    if [[ $_ts_apt_updated -eq 0 ]]; then
        _ts_say "installing $* via apt (one-time)"
        apt-get update -qq >&2 || { _ts_say "apt-get update failed"; return 1; }
        _ts_apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2 \
        || { _ts_say "apt-get install $* failed"; return 1; }
}

# ---------------------------------------------------------------- PostgreSQL

_ts_pg_answers() {  # port
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$_ts_host" -p "$1" -t 2
    else
        _ts_tcp_open "$_ts_host" "$1"
    fi
}

# "Answers" is not enough: a freshly apt-installed Debian cluster on 5432
# answers but wants a password over TCP, which would only surface later as a
# confusing test failure. So check that user postgres gets in without a
# password and may create databases. Skipped if psql is not installed.
_ts_pg_usable() {  # port
    command -v psql >/dev/null 2>&1 || return 0
    local out
    out=$(PGCONNECT_TIMEOUT=3 timeout 5 psql -w -X -Atq -h "$_ts_host" -p "$1" -U postgres -d postgres \
        -c "select rolsuper or rolcreatedb from pg_roles where rolname = current_user" 2>/dev/null) || return 1
    [[ $out == t ]]
}

# Newest installed major version's bin dir, e.g. /usr/lib/postgresql/15/bin.
_ts_pg_bindir() {
    local f v best=""
    for f in /usr/lib/postgresql/*/bin/initdb; do
        [[ -x $f ]] || continue
        v=${f#/usr/lib/postgresql/}; v=${v%%/*}
        [[ $v =~ ^[0-9]+$ ]] || continue
        if [[ -z $best || $v -gt $best ]]; then best=$v; fi
    done
    [[ -n $best ]] && echo "/usr/lib/postgresql/$best/bin"
}

# The data dir must be reachable by the postgres user through every path
# component; a repo under a 0700 home directory is not, so fall back to /tmp.
_ts_pg_datadir() {
    mkdir -p "$_ts_state" && chmod 0755 "$_ts_state" || return 1
    if _ts_as_postgres test -x "$_ts_state" 2>/dev/null; then
        echo "$_ts_state/pg"
    else
        echo "/tmp/artboard-test-pg"
    fi
}

_ts_pg_private() {
    local port=$_ts_pg_port_private dir bindir ver pid

    if _ts_pg_answers "$port"; then
        if _ts_pg_usable "$port"; then
            _ts_say "postgres at $_ts_host:$port (private, reused)"
            return 0
        fi
        _ts_say "something answers on $_ts_host:$port but user postgres cannot log in without a password; stop it or export ARTBOARD_TEST_PG_URL"
        return 1
    fi

    bindir=$(_ts_pg_bindir)
    if [[ -z $bindir ]]; then
        _ts_apt_install postgresql || return 1
        bindir=$(_ts_pg_bindir)
        [[ -n $bindir ]] || { _ts_say "postgresql installed but no initdb under /usr/lib/postgresql/*/bin"; return 1; }
    fi

    dir=$(_ts_pg_datadir) || { _ts_say "cannot create $_ts_state"; return 1; }
    if [[ -L $dir ]]; then
        _ts_say "$dir is a symlink; refusing to use it"
        return 1
    fi
    if [[ ! -d $dir ]]; then
        mkdir -p "$dir" || return 1
    fi
    # Re-asserted every time: a root-owned leftover dir would make initdb fail.
    chown postgres:postgres "$dir" && chmod 0700 "$dir" || return 1

    if [[ ! -f $dir/PG_VERSION ]]; then
        # C.UTF-8 is built into Debian 12's glibc, so this works whatever
        # locales the machine (doesn't) have generated.
        _ts_as_postgres "$bindir/initdb" -D "$dir" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 >"$_ts_state/initdb.log" 2>&1 \
            || { _ts_say "initdb failed; $_ts_state/initdb.log says:"; _ts_log_tail "$_ts_state/initdb.log"; return 1; }
        # Config lives in the data dir so plain `pg_ctl start` is enough and a
        # later run never needs to know the options. Durability is pointless
        # for throwaway test databases; turning it off saves a disk sync on
        # every commit and CREATE DATABASE.
        _ts_as_postgres tee -a "$dir/postgresql.conf" >/dev/null <<EOF

# --- artboard test-services ---
listen_addresses = '$_ts_host'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    else
        # A data dir is tied to its major version; after an upgrade use the
        # matching binaries if they are still installed.
        ver=$(<"$dir/PG_VERSION")
        if [[ -x /usr/lib/postgresql/$ver/bin/pg_ctl ]]; then
            bindir=/usr/lib/postgresql/$ver/bin
        else
            _ts_say "$dir was made by PostgreSQL $ver, which is not installed; remove that directory"
            return 1
        fi
    fi

    # Nothing answers on our port, so lock files here are left over from a
    # crash or reboot. Postgres only checks that the PID in them is alive, and
    # that goes wrong two ways: after a container restart the PID may belong
    # to an unrelated process, and where PID 1 reaps orphans lazily (as in
    # this sandbox) a killed postmaster lingers as a zombie. Either way it
    # refuses to start, so drop lock files whose PID is not a live postgres.
    local lock
    for lock in "$dir/postmaster.pid" "$dir/.s.PGSQL.$port.lock"; do
        [[ -f $lock ]] || continue
        pid=$(head -n 1 "$lock" 2>/dev/null)
        # A zombie has an empty cmdline, so the grep also rejects it.
        if [[ ! $pid =~ ^[0-9]+$ ]] || ! grep -qa postgres "/proc/$pid/cmdline" 2>/dev/null; then
            rm -f "$lock"
        fi
    done

    _ts_as_postgres "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t "$_ts_wait_seconds" start >/dev/null 2>&1 \
        || { _ts_say "postgres failed to start on $_ts_host:$port (waited up to ${_ts_wait_seconds}s); $dir/server.log says:"
             _ts_log_tail "$dir/server.log"; return 1; }

    local deadline=$((SECONDS + _ts_wait_seconds))
    until _ts_pg_answers "$port" && _ts_pg_usable "$port"; do
        if ((SECONDS >= deadline)); then
            _ts_say "postgres started but not usable on $_ts_host:$port within ${_ts_wait_seconds}s; $dir/server.log says:"
            _ts_log_tail "$dir/server.log"
            return 1
        fi
        sleep 0.2
    done
    _ts_say "postgres at $_ts_host:$port (private, started; data in $dir)"
}

_ts_pg() {
    local port=$_ts_pg_port_system
    if [[ -n ${ARTBOARD_TEST_PG_URL:-} ]]; then
        export ARTBOARD_TEST_PG_URL
        _ts_say "postgres from ARTBOARD_TEST_PG_URL (set by caller)"
        return 0
    fi
    if [[ ${ARTBOARD_TEST_FORCE_PRIVATE:-0} != 1 ]] && _ts_pg_answers "$port"; then
        if _ts_pg_usable "$port"; then
            _ts_say "postgres at $_ts_host:$port (already running)"
        else
            _ts_say "postgres on $_ts_host:$port needs a password for user postgres; using a private instance instead"
            port=""
        fi
    else
        port=""
    fi
    if [[ -z $port ]]; then
        _ts_pg_private || return 1
        port=$_ts_pg_port_private
    fi
    export ARTBOARD_TEST_PG_URL="postgresql+asyncpg://postgres@$_ts_host:$port/postgres"
}

# --------------------------------------------------------------------- Redis

_ts_redis_answers() {  # port
    if command -v redis-cli >/dev/null 2>&1; then
        # redis-cli has no connect/read timeout of its own: a listener that
        # accepts but never replies would hang it forever.
        [[ $(timeout 3 redis-cli -h "$_ts_host" -p "$1" ping 2>/dev/null) == PONG ]]
    else
        # Speak the protocol by hand: a bare TCP connect would also accept
        # something that is not Redis.
        timeout 2 bash -c '
            exec 3<>"/dev/tcp/$1/$2" || exit 1
            printf "PING\r\n" >&3
            IFS= read -r line <&3
            [[ $line == "+PONG"* ]]' _ "$_ts_host" "$1" 2>/dev/null
    fi
}

_ts_redis_private() {
    local port=$_ts_redis_port_private dir="$_ts_state/redis"

    if _ts_redis_answers "$port"; then
        _ts_say "redis at $_ts_host:$port (private, reused)"
        return 0
    fi
    if ! command -v redis-server >/dev/null 2>&1; then
        _ts_apt_install redis-server || return 1
        # Debian's postinst may well have started the system service on 6379;
        # that is fine, the private one below is what we use this time.
    fi

    mkdir -p "$dir" || { _ts_say "cannot create $dir"; return 1; }
    redis-server --port "$port" --bind "$_ts_host" --daemonize yes \
        --save '' --appendonly no --dir "$dir" \
        --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" >/dev/null 2>&1 \
        || { _ts_say "redis-server failed to start; $dir/redis.log says:"; _ts_log_tail "$dir/redis.log"; return 1; }

    local deadline=$((SECONDS + _ts_wait_seconds))
    until _ts_redis_answers "$port"; do
        if ((SECONDS >= deadline)); then
            _ts_say "redis did not answer on $_ts_host:$port within ${_ts_wait_seconds}s; $dir/redis.log says:"
            _ts_log_tail "$dir/redis.log"
            return 1
        fi
        sleep 0.2
    done
    _ts_say "redis at $_ts_host:$port (private, started; data in $dir)"
}

_ts_redis() {
    local port=$_ts_redis_port_system
    if [[ -n ${ARTBOARD_TEST_REDIS_URL:-} ]]; then
        export ARTBOARD_TEST_REDIS_URL
        _ts_say "redis from ARTBOARD_TEST_REDIS_URL (set by caller)"
        return 0
    fi
    if [[ ${ARTBOARD_TEST_FORCE_PRIVATE:-0} != 1 ]] && _ts_redis_answers "$port"; then
        _ts_say "redis at $_ts_host:$port (already running)"
    else
        _ts_redis_private || return 1
        port=$_ts_redis_port_private
    fi
    export ARTBOARD_TEST_REDIS_URL="redis://$_ts_host:$port/0"
}

# ---------------------------------------------------------------------- main

# Called inside `if` so a caller's `set -e` cannot abort half-way through our
# probes (which fail by design); the overall status is still returned below.
if _ts_pg && _ts_redis; then
    _ts_rc=0
else
    _ts_rc=1
    _ts_say "FAILED: test services are not ready"
fi

unset -f _ts_say _ts_log_tail _ts_tcp_open _ts_as_postgres _ts_apt_install \
    _ts_pg_answers _ts_pg_usable _ts_pg_bindir _ts_pg_datadir _ts_pg_private _ts_pg \
    _ts_redis_answers _ts_redis_private _ts_redis
unset _ts_host _ts_pg_port_system _ts_pg_port_private _ts_redis_port_system \
    _ts_redis_port_private _ts_wait_seconds _ts_repo _ts_state _ts_apt_updated
# eval expands the status before unset runs, so nothing of ours is left behind.
eval "unset _ts_rc; return $_ts_rc"
