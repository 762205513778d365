#!/usr/bin/env bash
# A guided tour of grove (`make demo`, after `make build`): a coordinator and two agents,
# sessions over throwaway repositories, work that is never lost (kill refuses, cleanup
# preserves, restore brings it back), tasks that survive their agent being killed,
# background jobs, local sync that pauses by itself, and the coordinator's view of it all.
# Everything lives in a temp dir and every process is stopped however the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."

GROVE_JS="$PWD/dist/clients/cli/main.js"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/grove-demo.XXXXXX")"
COORD_PID=""
AGENT_A_PID=""
AGENT_B_PID=""
HOOKS_PID=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # A task still waiting for its gate would wait out its own bound: let it finish now.
  touch "$TMP/gate" 2>/dev/null || true
  # Agents first: they hold links to the coordinator.
  for pid in "$AGENT_A_PID" "$AGENT_B_PID" "$COORD_PID" "$HOOKS_PID"; do
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
# Words as a shell would take them back: anything unusual single-quoted.
quote_words() {
  local word out=""
  for word in "$@"; do
    if [[ "$word" =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then out+=" $word"; else out+=" '${word//\'/\'\\\'\'}'"; fi
  done
  printf '%s' "${out# }"
}
# Shows each grove command before running it, so the tour can be replayed by hand.
grove() {
  printf '$ grove %s\n' "$(quote_words "$@")"
  node "$GROVE_JS" "$@"
}
# The same, quietly: for values the tour reads rather than shows.
grove_quiet() { node "$GROVE_JS" "$@"; }
# Runs a command that is expected to fail with exit status $1, showing that status.
expect_status() {
  local want=$1 got=0
  shift
  "$@" || got=$?
  echo "(exit status $got)"
  if [[ "$got" != "$want" ]]; then
    echo "demo: expected exit status $want" >&2
    return 1
  fi
}
git_demo() { git -c user.name="Grove Demo" -c user.email=demo@grove.invalid "$@"; }

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

# Polls (at most 10s) until the command succeeds; `what` explains a timeout.
wait_until() {
  local what=$1
  shift
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "demo: timed out waiting for $what" >&2
  return 1
}

# `grove ... --json` prints one JSON object; this reads a dotted path of it (`session.id`).
json_get() {
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v?.[k];console.log(v??"")})' "$1"
}

# Starts agent demo-$1 (labels team=$1), linked to the coordinator; sets AGENT_<X>_PID.
start_agent() {
  local name=$1 dir="$TMP/agent-$1"
  rm -f "$dir.ready"
  node "$GROVE_JS" agent serve --listen 127.0.0.1:0 --data-dir "$dir" \
    --coordinator "$GROVE_COORDINATOR" --name "demo-$name" --labels "team=$name" \
    --ready-file "$dir.ready" --log-level warn >/dev/null 2>>"$dir.log" &
  local pid=$!
  if [[ "$name" == a ]]; then AGENT_A_PID=$pid; else AGENT_B_PID=$pid; fi
  wait_ready "agent demo-$name" "$pid" "$dir.ready" "$dir.log"
}

agent_connected() { grove_quiet agents ls | grep -Eq "^$1 +[^ ]+ +CONNECTED"; }
coordinator_knows_session() { grove_quiet session ls --coordinator "$GROVE_COORDINATOR" | grep -q "$1"; }
task_state_is() { [[ "$(grove_quiet task get "$1" --json | json_get state)" == "$2" ]]; }

step "A webhook receiver for the coordinator's notifications (it appends each POST to $TMP/hooks.jsonl)"
# A stand-in for Slack or a CI: any HTTP endpoint that answers 2xx. It checks each signature.
echo "demo-webhook-secret" >"$TMP/webhook-secret"
node -e '
  const { createHmac } = require("node:crypto");
  const [file, portFile, secret] = process.argv.slice(1);
  require("node:http").createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d)).on("end", () => {
      const signed = req.headers["x-grove-signature-256"] === "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
      require("node:fs").appendFileSync(file, JSON.stringify({ signed, ...JSON.parse(body) }) + "\n");
      res.writeHead(204).end();
    });
  }).listen(0, "127.0.0.1", function () { require("node:fs").writeFileSync(portFile, String(this.address().port)); });
  setTimeout(() => process.exit(0), 600000).unref();
' "$TMP/hooks.jsonl" "$TMP/hooks.port" "demo-webhook-secret" &
HOOKS_PID=$!
wait_ready "webhook receiver" "$HOOKS_PID" "$TMP/hooks.port" /dev/null
echo "receiver on http://127.0.0.1:$(cat "$TMP/hooks.port")/grove"

step "Starting a coordinator (the OS picks its port; logs in $TMP/coordinator.log)"
node "$GROVE_JS" coordinator serve --listen 127.0.0.1:0 --data-dir "$TMP/coordinator" --http 127.0.0.1:0 \
  --webhook "http://127.0.0.1:$(cat "$TMP/hooks.port")/grove" --webhook-events task.failed,land.done \
  --webhook-secret-file "$TMP/webhook-secret" \
  --ready-file "$TMP/coordinator.ready" --log-level warn >/dev/null 2>"$TMP/coordinator.log" &
COORD_PID=$!
wait_ready coordinator "$COORD_PID" "$TMP/coordinator.ready" "$TMP/coordinator.log"
# The ready file's first line is the gRPC address, its second the web page's URL.
export GROVE_COORDINATOR="$(sed -n 1p "$TMP/coordinator.ready")"
PAGE_URL="$(sed -n 2p "$TMP/coordinator.ready")"
# Agent verbs go through the coordinator only when --coordinator is on the command line.
VIA=(--coordinator "$GROVE_COORDINATOR")
echo "coordinator listening on $GROVE_COORDINATOR; its web page is $PAGE_URL"

step "Starting two agents that dial out to it: demo-a (team=a) and demo-b (team=b)"
start_agent a
start_agent b
AGENT_A="$(cat "$TMP/agent-a.ready")"
AGENT_B="$(cat "$TMP/agent-b.ready")"
# Plain agent verbs go to demo-a unless --agent says otherwise.
export GROVE_AGENT="$AGENT_A"
echo "demo-a listening on $AGENT_A, demo-b on $AGENT_B"

step "Making throwaway repositories: app (with a bare origin) and lib for demo-a, tools for demo-b"
W="$TMP/work"
for repo in app lib tools; do
  mkdir -p "$W/$repo"
  git -C "$W/$repo" init --quiet --initial-branch=main
  git -C "$W/$repo" config user.name "Grove Demo"
  git -C "$W/$repo" config user.email demo@grove.invalid
  echo "# $repo" >"$W/$repo/README.md"
  echo "v1" >"$W/$repo/version.txt"
  git -C "$W/$repo" add --all
  git_demo -C "$W/$repo" commit --quiet -m "initial commit of $repo"
done
git clone --quiet --bare "$W/app" "$W/origin.git"
git -C "$W/app" remote add origin "$W/origin.git"
git -C "$W/app" fetch --quiet origin
(cd "$W" && grove repo add app && grove repo add lib && grove repo add tools --agent "$AGENT_B")

step "The coordinator's agents (waiting until both are CONNECTED)"
wait_until "demo-a to connect" agent_connected demo-a
wait_until "demo-b to connect" agent_connected demo-b
grove agents ls

step "A two-repo session created through the coordinator: any agent with team=a and repo app"
created="$(grove session create "${VIA[@]}" --where team=a --repo app --repo lib --branch feature/login --title "Login page")"
echo "$created"
SESSION="$(sed -n 's/^created session \([^ ]*\).*/\1/p' <<<"$created")"
grove session create "${VIA[@]}" --where team=b --repo tools --branch chore/tidy --title "Tidy tools"

step "The coordinator's view: sessions of both agents, with an AGENT column"
wait_until "the coordinator to project $SESSION" coordinator_knows_session "$SESSION"
grove session ls "${VIA[@]}"

WT_APP="$(grove_quiet session get "$SESSION" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).worktrees.find(w=>w.repoName==="app").path))')"
WT_LIB="$(dirname "$WT_APP")/lib"

step "Work in progress: a tracked change in app, an untracked file in lib"
echo "v2: login form" >"$WT_APP/version.txt"
echo "def login(): ..." >"$WT_LIB/login.py"
git -C "$WT_APP" status --short
git -C "$WT_LIB" status --short

step "session kill refuses to destroy work: nothing is removed, every reason is listed (exit 3)"
expect_status 3 grove session kill "$SESSION" "${VIA[@]}"

step "session cleanup preserves the work to refs first, then removes the worktrees"
grove session cleanup "$SESSION" "${VIA[@]}"
grove preserved ls "$SESSION"

step "session restore recreates the worktrees; preserved apply brings the work back"
grove session restore "$SESSION" "${VIA[@]}"
grove preserved apply "$SESSION" app
grove preserved apply "$SESSION" lib
echo "app/version.txt: $(cat "$WT_APP/version.txt")"
echo "lib/login.py:    $(cat "$WT_LIB/login.py")"

step "Work git status cannot see is still work (the tools session on demo-b)"
TIDY="$(grove_quiet session ls "${VIA[@]}" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).sessions.find(x=>x.branch==="chore/tidy").id))')"
WT_TOOLS="$(grove_quiet session get "$TIDY" "${VIA[@]}" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).worktrees[0].path))')"
git -C "$WT_TOOLS" update-index --assume-unchanged -- version.txt
echo "v2: a tweak hidden from git status" >"$WT_TOOLS/version.txt"
echo "git status --short says: '$(git -C "$WT_TOOLS" status --short)' (nothing)"
expect_status 3 grove session kill "$TIDY" "${VIA[@]}"
git -C "$WT_TOOLS" update-index --no-assume-unchanged -- version.txt
git -C "$WT_TOOLS" checkout --quiet -- version.txt

step "Ignored files: a declared .env is work; other ignored files go with the worktree, and are listed"
printf '.env\n*.log\n' >>"$(git -C "$WT_TOOLS" rev-parse --git-path info/exclude)"
grove repo set tools --keep-ignored .env --agent "$AGENT_B"
echo "SECRET=only-copy" >"$WT_TOOLS/.env"
expect_status 3 grove session kill "$TIDY" "${VIA[@]}"
rm "$WT_TOOLS/.env"
echo "noise" >"$WT_TOOLS/build.log"
grove session kill "$TIDY" "${VIA[@]}"

step "Worktree setup: tools copies its .env into each new worktree and runs a setup command first"
echo "API_KEY=demo" >"$W/tools/.env"
grove repo set tools --copy .env --setup 'echo "setting up with $(cut -d= -f1 .env)"; sleep 1' --agent "$AGENT_B"
SET_UP="$(grove_quiet session create --repo tools --branch setup-demo --agent "$AGENT_B" --json | json_get session.id)"
grove session get "$SET_UP" --agent "$AGENT_B" | grep -E '^(ID|STATE) '
session_active() { grove_quiet session get "$SET_UP" --agent "$AGENT_B" | grep -q '^STATE *ACTIVE'; }
wait_until "setup to finish" session_active
grove session get "$SET_UP" --agent "$AGENT_B" | grep -E '^STATE '
grove task ls "$SET_UP" --agent "$AGENT_B"
grove task logs "$(grove_quiet task ls "$SET_UP" --agent "$AGENT_B" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).tasks[0].id))')" --agent "$AGENT_B"
echo "(the copied .env is unchanged, so it is not work: kill removes it with the worktree)"
grove session kill "$SET_UP" --agent "$AGENT_B"

step "task run --wait: a real command in the session's worktree, output streamed, its exit status kept"
grove task run "$SESSION" --wait "${VIA[@]}" -- \
  sh -c 'git add --all && git commit --quiet -m "login form" && echo hello from the task; git log --oneline | head -3'
grove task run "$SESSION" --repo lib --wait -- sh -c 'git add --all && git commit --quiet -m "login helper" && git log --oneline -1'
expect_status 7 grove task run "$SESSION" --wait -- sh -c 'echo "a failing check" >&2; exit 7'

step "A long task waits on a gate file; then demo-a is killed with SIGKILL mid-run"
GATED="$(grove_quiet task run "$SESSION" --json -- sh -c \
  "echo waiting for the gate; for i in \$(seq 1 300); do [ -f '$TMP/gate' ] && break; sleep 0.1; done; echo the gate opened" |
  json_get task.id)"
wait_until "task $GATED to run" task_state_is "$GATED" TASK_STATE_RUNNING
grove task get "$GATED"
kill -KILL "$AGENT_A_PID"
wait "$AGENT_A_PID" 2>/dev/null || true
AGENT_A_PID=""
echo "demo-a killed; its task's runner lives on by itself"

step "Restarting demo-a on the same data dir: recovery re-adopts the running task"
start_agent a
export GROVE_AGENT="$(cat "$TMP/agent-a.ready")"
grove task get "$GATED"

step "Opening the gate: the task ends SUCCEEDED with all its output, not stuck"
touch "$TMP/gate"
grove task logs "$GATED" --follow
grove task ls "$SESSION"

step "A terminal task (--tty): an interactive program asks a question and reports it needs input"
# A stand-in for an interactive coding agent (a real one needs its model's network): it asks,
# runs `grove signal needs-input`, and waits for an answer on its terminal.
ASKER="$(grove_quiet task run "$SESSION" --tty --json -- sh -c \
  'node "$GROVE_CLI" signal needs-input --message "which colour?"; printf "which colour? "; read answer; node "$GROVE_CLI" signal working; echo "painting it $answer"' |
  json_get task.id)"
needs_input() { grove_quiet session ls --activity needs-input | grep -q "$SESSION"; }
wait_until "the session to need input" needs_input
grove session ls --activity needs-input
step "Answering it with task send (attach from any terminal: grove task attach $ASKER; Ctrl-] detaches)"
grove task send "$ASKER" "green" --enter
wait_until "task $ASKER to end" task_state_is "$ASKER" TASK_STATE_SUCCEEDED
grove task logs "$ASKER"
grove session ls

step "Background jobs: a teammate pushes to origin; sync_repo fetches it"
git clone --quiet "$W/origin.git" "$W/teammate"
echo "# app, now with CI" >"$W/teammate/README.md"
git_demo -C "$W/teammate" commit --quiet -am "teammate: CI badge"
git -C "$W/teammate" push --quiet origin main
JOB="$(grove_quiet job submit sync_repo --repo app --json | json_get job.id)"
grove job wait "$JOB"

step "rebase_branch puts feature/login on top of the new origin/main"
JOB="$(grove_quiet job submit rebase_branch --repo app --branch feature/login --base origin/main --json | json_get job.id)"
grove job wait "$JOB"
git -C "$WT_APP" log --oneline --graph | head -4
grove job ls

step "Local sync: your own (dirty) app checkout follows the session; your changes are stashed"
echo "my scratch notes" >"$W/app/notes.txt"
grove sync start "$SESSION" --repo app
git -C "$W/app" status --short --branch

step "The session commits; sync flush brings the commit into your checkout"
grove task run "$SESSION" --wait -- sh -c 'echo "v3: remember me" >version.txt && git commit --quiet -am "remember me" && echo committed'
grove sync flush app
git -C "$W/app" log --oneline -2

step "An interactive rebase stopped at a break in your checkout: sync pauses, saying why"
git -C "$W/app" -c sequence.editor='sed -i 1ibreak' rebase -i HEAD~1 >/dev/null 2>&1
grove sync flush app
grove sync status

step "Aborting the rebase clears the cause: sync resumes"
git -C "$W/app" rebase --abort
grove sync flush app

step "Stopping sync: back on main, the stashed changes restored"
grove sync stop app --restore-stash
git -C "$W/app" status --short --branch
echo "notes.txt: $(cat "$W/app/notes.txt")"

step "Review: what the session changed since it branched off, per repo, through the coordinator"
echo "How to log in." >"$WT_LIB/LOGIN.md" # not committed yet
grove session diff "$SESSION" --stat "${VIA[@]}"

step "session commit: everything the session has, untracked included, in each repo with changes"
grove session commit "$SESSION" -m "Login page" "${VIA[@]}"

step "session land: into main of app and lib, all or nothing; your clean checkouts follow"
grove session land "$SESSION" --wait "${VIA[@]}"
git -C "$W/app" log --oneline -3
grove session get "$SESSION" "${VIA[@]}" | sed -n '/^LANDED/,$p'

step "Fan out: one small task, an attempt on each agent (grove run --count 2 --spread), as a group"
for side in a b; do
  mkdir -p "$W/site-$side"
  git -C "$W/site-$side" init --quiet --initial-branch=main
  git -C "$W/site-$side" config user.name "Grove Demo"
  git -C "$W/site-$side" config user.email demo@grove.invalid
  echo "# site" >"$W/site-$side/README.md"
  git -C "$W/site-$side" add --all
  git_demo -C "$W/site-$side" commit --quiet -m "initial commit of site"
done
grove_quiet repo add "$W/site-a" --name site >/dev/null
grove_quiet repo add "$W/site-b" --name site --agent "$AGENT_B" >/dev/null
both_sites() { [[ "$(grove_quiet repo ls "${VIA[@]}" | awk '$2 == "site"' | wc -l)" == 2 ]]; }
wait_until "the coordinator to see both site repos" both_sites
grove repo ls "${VIA[@]}"
GROUP="$(grove_quiet run --count 2 --spread --repo site --title "A tagline" "${VIA[@]}" --json -- \
  sh -c 'echo "tagline: worktrees, everywhere ($GROVE_TASK_ID)" >TAGLINE && git add TAGLINE && git commit --quiet -m "a tagline" && cat TAGLINE' |
  json_get group.id)"
group_done() { [[ "$(grove_quiet group get "$GROUP" "${VIA[@]}" --json | grep -o '"taskState":"TASK_STATE_SUCCEEDED"' | wc -l)" == 2 ]]; }
wait_until "both attempts to finish" group_done
grove group get "$GROUP" "${VIA[@]}"

step "Keep the first attempt and land it; the other is cleaned up (its work would be preserved)"
KEEP="$(grove_quiet group get "$GROUP" "${VIA[@]}" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).members[0].sessionId))')"
LAND_JOB="$(grove_quiet group pick "$GROUP" "$KEEP" --land "${VIA[@]}" --json | json_get group.landJobId)"
grove job wait "$LAND_JOB" "${VIA[@]}"
grove group ls "${VIA[@]}"
cat "$W"/site-*/TAGLINE 2>/dev/null

step "The coordinator's view again, across both agents (demo-a is back)"
wait_until "demo-a to reconnect" agent_connected demo-a
grove agents ls
grove session ls "${VIA[@]}"
grove task ls "${VIA[@]}" --state succeeded

step "A few changes streamed from the coordinator (the start of its snapshot, as JSON lines)"
grove watch "${VIA[@]}" --json --limit 3

step "Prometheus metrics on the coordinator's --http address (a few of them)"
node -e 'fetch(`http://${process.argv[1]}/metrics`).then((r) => r.text()).then((t) => console.log(t.split("\n").filter((l) => /^grove_coordinator_(agents|tasks|link_joins_total)\{/.test(l) && !/ 0$/.test(l)).join("\n")))' \
  "$(cat "$TMP/coordinator/http-address")"

step "What the webhook receiver was told: the failed task and the land, each signed"
hooks_arrived() { [[ "$(grep -c '"type":"land.done"' "$TMP/hooks.jsonl" 2>/dev/null)" -ge 1 ]]; }
wait_until "the land's webhook" hooks_arrived
node -e 'for (const l of require("node:fs").readFileSync(process.argv[1], "utf8").trim().split("\n")) { const h = JSON.parse(l); console.log(`${h.type.padEnd(12)} signed=${h.signed}  ${h.id}`); }' "$TMP/hooks.jsonl"

step "The web page ($PAGE_URL) is fed by the same coordinator: its API answers JSON"
node -e 'fetch(process.argv[1] + "api/call/coordinator/ListAgents", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
  .then((r) => r.json()).then((j) => console.log(j.agents.map((a) => `${a.name}: ${a.status}`).join("\n")))' "$PAGE_URL"
echo "(open $PAGE_URL in a browser while the demo runs to watch it live)"

step "Stopping the agents and the coordinator (SIGTERM) and waiting for them"
for var in AGENT_A_PID AGENT_B_PID COORD_PID; do
  kill -TERM "${!var}"
  wait "${!var}"
  printf -v "$var" '%s' ""
done
kill -TERM "$HOOKS_PID" && wait "$HOOKS_PID" 2>/dev/null || true # the receiver just dies of it
HOOKS_PID=""
echo "all stopped"

step "Done: everything ran in $TMP, which is removed now"
