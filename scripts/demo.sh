#!/usr/bin/env bash
# A guided tour of grove (`make demo`, after `make build`): a coordinator, an agent linked
# to it, a throwaway repository registered with the agent, and the events that produced.
# Everything lives in a temp dir and both services are stopped however the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."

GROVE_JS="$PWD/dist/clients/cli/main.js"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/grove-demo.XXXXXX")"
COORD_PID=""
AGENT_PID=""
WATCH_PID=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # Agent first: it holds a link to the coordinator.
  for pid in "$WATCH_PID" "$AGENT_PID" "$COORD_PID"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n==> %s\n' "$*"; }
# Shows each grove command before running it, so the tour can be replayed by hand.
grove() {
  printf '$ grove %s\n' "$*"
  node "$GROVE_JS" "$@"
}

# Waits (at most 10s) for a service started with --ready-file to write its address.
wait_ready() {
  local name=$1 pid=$2 ready=$3 log=$4
  for _ in $(seq 1 100); do
    if [[ -s "$ready" ]]; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "demo: the $name exited before it was ready; its log:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "demo: the $name was not ready within 10s; its log:" >&2
  cat "$log" >&2
  return 1
}

# `grove ... --json` prints one JSON object; this reads one numeric field of it.
json_field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]??0))' "$1"; }

step "Starting a coordinator (the OS picks its port; logs in $TMP/coordinator.log)"
node "$GROVE_JS" coordinator serve --listen 127.0.0.1:0 --data-dir "$TMP/coordinator" \
  --ready-file "$TMP/coordinator.ready" --log-level warn >/dev/null 2>"$TMP/coordinator.log" &
COORD_PID=$!
wait_ready coordinator "$COORD_PID" "$TMP/coordinator.ready" "$TMP/coordinator.log"
export GROVE_COORDINATOR="$(cat "$TMP/coordinator.ready")"
echo "coordinator listening on $GROVE_COORDINATOR"

step "Starting an agent named demo-agent that dials out to the coordinator"
node "$GROVE_JS" agent serve --listen 127.0.0.1:0 --data-dir "$TMP/agent" \
  --coordinator "$GROVE_COORDINATOR" --name demo-agent --labels team=demo \
  --ready-file "$TMP/agent.ready" --log-level warn >/dev/null 2>"$TMP/agent.log" &
AGENT_PID=$!
wait_ready agent "$AGENT_PID" "$TMP/agent.ready" "$TMP/agent.log"
export GROVE_AGENT="$(cat "$TMP/agent.ready")"
echo "agent listening on $GROVE_AGENT"

step "Making a throwaway git repository with one commit"
mkdir -p "$TMP/work/project"
git -C "$TMP/work/project" init --quiet --initial-branch=main
echo "# demo project" >"$TMP/work/project/README.md"
git -C "$TMP/work/project" add README.md
git -C "$TMP/work/project" -c user.name="Grove Demo" -c user.email=demo@grove.invalid \
  commit --quiet -m "initial commit"
git -C "$TMP/work/project" log --oneline

step "Registering it with the agent (a relative path, resolved by the CLI)"
(cd "$TMP/work" && grove repo add project --name demo-project)

step "Listing the agent's repos"
grove repo ls

step "Asking the coordinator for its agents (until demo-agent is CONNECTED)"
connected=""
for _ in $(seq 1 100); do
  if node "$GROVE_JS" agents ls 2>/dev/null | grep -Eq '^demo-agent +[^ ]+ +CONNECTED'; then
    connected=yes
    break
  fi
  sleep 0.1
done
if [[ -z "$connected" ]]; then
  echo "demo: demo-agent did not show CONNECTED within 10s" >&2
  node "$GROVE_JS" agents ls >&2 || true
  exit 1
fi
grove agents ls

step "Replaying the agent's event log so far, as JSON lines"
revision="$(node "$GROVE_JS" repo ls --json | json_field revision)"
grove watch --json --limit "$revision"

step "Watching live: removing the repo while a watcher waits for the next event"
node "$GROVE_JS" watch --after "$revision" --limit 1 >"$TMP/live.out" &
WATCH_PID=$!
grove repo rm demo-project
# The watcher resumes after $revision, so it gets the removal whether or not it was
# connected before the removal happened.
wait "$WATCH_PID"
WATCH_PID=""
echo "the watcher saw:"
cat "$TMP/live.out"

step "Stopping the agent and the coordinator (SIGTERM) and waiting for them"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
AGENT_PID=""
echo "agent stopped"
kill -TERM "$COORD_PID"
wait "$COORD_PID"
COORD_PID=""
echo "coordinator stopped"

step "Done: everything ran in $TMP, which is removed now"
