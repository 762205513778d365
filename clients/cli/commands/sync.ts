import { FlushSyncResponse, ListSyncsResponse, StartSyncResponse, StopSyncResponse } from '@grove/sdk/proto/agent/v1/agent_service.js';
import { syncStateToJSON, type Sync } from '@grove/sdk/proto/agent/v1/resources.js';
import { expectPositionals, parseVerbArgs, ROUTE_FLAG_HELP, ROUTE_OPTIONS } from '../args.js';
import { onAgent, requireAgentWhenRouted, withCaller } from '../caller.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { verbUsage } from '../help.js';
import { repoNames, type Names } from '../names.js';
import { enumLabel, orDash } from '../output/format.js';
import { formatJsonLine } from '../output/json.js';
import { formatTable } from '../output/table.js';

const syncStateLabel = (sync: Sync) => enumLabel(syncStateToJSON(sync.state), 'SYNC_STATE_');

function syncTable(syncs: readonly Sync[], repo: Names): string {
  return formatTable([
    ['REPO', 'SESSION', 'STATE', 'CAUSES'],
    ...syncs.map((sync) => [repo(sync.repoId), sync.sessionId, syncStateLabel(sync), orDash(sync.causes.join('; '))]),
  ]);
}

const start: Command = {
  path: ['sync', 'start'],
  synopsis: 'sync start SESSION [--repo R]',
  summary: "make your own checkout of a repo follow a session's branch",
  usage: verbUsage(
    'sync start SESSION [--repo R]',
    `Makes your checkout of the repo (the path it was registered with) follow the session: it
switches to grove/sync/SESSION, and commits then flow by fast-forward both ways. Changes
in a dirty checkout are first stashed to a grove stash (tracked, staged and untracked;
see 'grove stash ls'). Sync pauses by itself while you rebase, merge, switch branch or
the branches diverge, and resumes when that clears.`,
    `  --repo R     the repo (name or id); needed when the session spans several
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, { ...ROUTE_OPTIONS, repo: { type: 'string', default: '' } });
    const [sessionId] = expectPositionals('sync start', positionals, ['SESSION']);
    const { response, agent, names } = await withCaller(values, io, async (caller) => {
      const reply = await caller.call('startSync', { sessionId, repoId: values.repo });
      return { ...reply, names: values.json ? undefined : await repoNames(caller, reply.agent) };
    });
    if (values.json || !names) return io.outExact(formatJsonLine(StartSyncResponse.toJSON(response)));
    const { sync } = response;
    if (!sync) throw new Error('the agent answered StartSync without the sync');
    io.out(`${names(sync.repoId)} now follows session ${sessionId} on ${sync.syncBranch}${onAgent(agent)}\n`);
    if (sync.stashId) io.out(`its uncommitted changes were stashed as ${sync.stashId} (grove stash ls)\n`);
    io.out(syncTable([sync], names));
  },
};

const stop: Command = {
  path: ['sync', 'stop'],
  synopsis: 'sync stop REPO [--restore-stash]',
  summary: 'stop syncing a checkout (switching back to its branch when clean)',
  usage: verbUsage(
    'sync stop REPO [--restore-stash]',
    `Stops sync of REPO (name or id). A clean checkout still on the sync branch goes back to the
branch it was on; otherwise it is left as it is, and the answer says so. With
--restore-stash the stash taken at start is applied and dropped, if it applies cleanly
(otherwise it is kept, and the answer says why).`,
    `  --restore-stash  put back the changes stashed when sync started
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {
      ...ROUTE_OPTIONS,
      'restore-stash': { type: 'boolean', default: false },
    });
    const [repoId] = expectPositionals('sync stop', positionals, ['REPO']);
    const { response, agent } = await withCaller(values, io, (caller) =>
      caller.call('stopSync', { repoId, restoreStash: values['restore-stash'] }),
    );
    if (values.json) return io.outExact(formatJsonLine(StopSyncResponse.toJSON(response)));
    io.out(`stopped syncing ${repoId}${onAgent(agent)}\n`);
    if (response.stashMessage) io.out(`${response.stashMessage}\n`);
  },
};

const status: Command = {
  path: ['sync', 'status'],
  synopsis: 'sync status',
  summary: 'list syncs: REPO SESSION STATE CAUSES',
  usage: verbUsage(
    'sync status',
    'Lists every sync of the agent: SYNCING, PAUSED (with the causes, in words you can act on) or OFF.',
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    expectPositionals('sync status', positionals, []);
    requireAgentWhenRouted('sync status', values, 'syncs');
    const { response, names } = await withCaller(values, io, async (caller) => {
      const { response } = await caller.call('listSyncs', {});
      return { response, names: values.json ? undefined : await repoNames(caller) };
    });
    if (values.json || !names) return io.outExact(formatJsonLine(ListSyncsResponse.toJSON(response)));
    if (response.syncs.length === 0) return io.err('no syncs\n');
    io.out(syncTable(response.syncs, names));
  },
};

const flush: Command = {
  path: ['sync', 'flush'],
  synopsis: 'sync flush REPO',
  summary: 'run one sync step now and show the outcome',
  usage: verbUsage(
    'sync flush REPO',
    `Runs one sync step for REPO now instead of at the next probe: brings commits across when
it can, or shows why it is PAUSED.`,
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    const [repoId] = expectPositionals('sync flush', positionals, ['REPO']);
    const { response, names } = await withCaller(values, io, async (caller) => {
      const reply = await caller.call('flushSync', { repoId });
      return { response: reply.response, names: values.json ? undefined : await repoNames(caller, reply.agent) };
    });
    if (values.json || !names) return io.outExact(formatJsonLine(FlushSyncResponse.toJSON(response)));
    if (!response.sync) throw new Error('the agent answered FlushSync without the sync');
    io.out(syncTable([response.sync], names));
  },
};

export const syncCommands: readonly Command[] = [start, stop, status, flush];
