# procs.sh: sourced by bench/run, bench/profile and bench/heap. The
# processes a script starts go into PIDS; on exit (or Ctrl-C) each gets
# TERM, then KILL if it is still there 10 s later.

PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_port PORT: 0 once 127.0.0.1:PORT accepts, 1 after 30 s (valgrind
# starts slowly)
wait_port() {
    for _ in $(seq 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
