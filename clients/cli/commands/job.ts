import { isAbortError } from 'abort-controller-x';
import { CancelJobResponse, ListJobsResponse, SubmitJobResponse } from '@grove/sdk/proto/agent/v1/agent_service.js';
import { Job, JobKind, jobKindToJSON, JobState, jobStateToJSON } from '@grove/sdk/proto/agent/v1/resources.js';
import { ListJobsResponse as CoordinatorListJobsResponse } from '@grove/sdk/proto/coordinator/v1/coordinator_service.js';
import type { AgentCaller } from '@grove/sdk';
import { enumFlag, expectPositionals, parseVerbArgs, ROUTE_FLAG_HELP, ROUTE_OPTIONS } from '../args.js';
import { onAgent, withCaller, type CallerValues } from '../caller.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { ExitError } from '../exit-error.js';
import { EXIT_CALL_FAILED, EXIT_STOPPED } from '../exit-status.js';
import { verbUsage } from '../help.js';
import { abortOnSignals } from '../interrupt.js';
import { isJobFinished, waitForJob } from '../job-wait.js';
import { agentNames, repoNames, type Names } from '../names.js';
import { enumLabel, formatTime, orDash } from '../output/format.js';
import { formatJsonLine } from '../output/json.js';
import { ProgressLine } from '../output/progress-line.js';
import { formatTable } from '../output/table.js';
import { allPages } from '../pages.js';

const KIND_HELP = 'sync_repo, register_branch, rebase_branch, restack_branch, reparent_branch, cleanup_session, restore_sessions';
const STATE_HELP = 'queued, running, succeeded, failed, cancelled';

const jobStateLabel = (job: Job) => enumLabel(jobStateToJSON(job.state), 'JOB_STATE_');
const jobKindLabel = (job: Job) => enumLabel(jobKindToJSON(job.kind), 'JOB_KIND_').toLowerCase();
/** What a person wants to know of a job now: its error, its result, or where it is. */
const jobMessage = (job: Job) => job.error || job.result || job.progressMessage;

const submit: Command = {
  path: ['job', 'submit'],
  synopsis: 'job submit KIND [--repo R] [...]',
  summary: 'queue a background job (fetch, rebase, restack, ...) and print its id',
  usage: verbUsage(
    'job submit KIND [--repo R] [--branch B] [--base B] [--key K] [--session ID ...]',
    `Queues a durable background job on the agent and prints its id at once; the agent runs it
(one at a time per repo), reports progress, and keeps its result across restarts. Follow
it with 'grove job wait ID'. KIND and what it needs:
  sync_repo        --repo               fetch (and prune) from the repo's first remote
  register_branch  --repo --branch      attach an existing branch (fetching it if remote-only)
  rebase_branch    --repo --branch      rebase onto --base (default: its recorded parent)
  restack_branch   --repo --branch      rebase the branch and its descendants, parents first
  reparent_branch  --repo --branch --base   record a new parent and rebase onto it
  cleanup_session  --session ID         'grove session cleanup', in the background
  restore_sessions --session ID ...     'grove session restore', in the background`,
    `  --repo R       the repo (name or id)
  --branch B     the branch
  --base B       the branch or commit to rebase onto
  --key K        idempotency key: submitting the same key again answers the same job
  --session ID   a session (repeatable for restore_sessions)
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {
      ...ROUTE_OPTIONS,
      repo: { type: 'string', default: '' },
      branch: { type: 'string', default: '' },
      base: { type: 'string', default: '' },
      key: { type: 'string', default: '' },
      session: { type: 'string', multiple: true },
    });
    const [kindName] = expectPositionals('job submit', positionals, ['KIND']);
    const kind = enumFlag('KIND', kindName, JobKind, 'JOB_KIND_');
    const sessions = values.session ?? [];
    const request = {
      kind,
      repoId: values.repo,
      branch: values.branch,
      base: values.base,
      idempotencyKey: values.key,
      // cleanup_session reads the one, restore_sessions the list; the agent checks which it needs.
      sessionId: sessions[0] ?? '',
      sessionIds: sessions,
    };
    const { response, agent } = await withCaller(values, io, (caller) => caller.call('submitJob', request));
    if (values.json) return io.outExact(formatJsonLine(SubmitJobResponse.toJSON(response)));
    const { job } = response;
    if (!job) throw new Error('the agent answered SubmitJob without the job');
    io.out(`submitted job ${job.id} (${jobKindLabel(job)}) ${jobStateLabel(job)}${onAgent(agent)}\n`);
  },
};

const jobRow = (job: Job, repo: Names, agentName?: Names) => [
  ...(agentName ? [agentName(job.agentId)] : []),
  job.id,
  jobKindLabel(job),
  jobStateLabel(job),
  `${job.progressPercent}%`,
  repo(job.repoId),
  orDash(job.branch),
  orDash(jobMessage(job)),
];

async function listJobs(
  caller: AgentCaller,
  filter: { state: number; kind: number; repo: string },
): Promise<{ json: unknown; rows: string[][] }> {
  const header = ['ID', 'KIND', 'STATE', 'PROGRESS', 'REPO', 'BRANCH', 'MESSAGE'];
  if (caller.kind === 'routed') {
    const { coordinator } = caller;
    const request = { agent: caller.target.agent ?? '', state: filter.state, repo: filter.repo };
    const { first, items } = await allPages(
      (pageToken) => coordinator.listJobs({ ...request, pageToken }),
      (p) => p.jobs,
    );
    // The coordinator does not filter by kind: done here, on the full list.
    const jobs = filter.kind ? items.filter((job) => job.kind === filter.kind) : items;
    const [names, repos] = await Promise.all([agentNames(coordinator), repoNames(caller)]);
    const json = CoordinatorListJobsResponse.toJSON({ jobs, nextPageToken: '', revision: first.revision });
    return { json, rows: [['AGENT', ...header], ...jobs.map((job) => jobRow(job, repos, names))] };
  }
  const request = { state: filter.state, kind: filter.kind, repoId: filter.repo };
  const { first, items } = await allPages(
    async (pageToken) => (await caller.call('listJobs', { ...request, pageToken })).response,
    (page) => page.jobs,
  );
  const repos = await repoNames(caller);
  const json = ListJobsResponse.toJSON({ jobs: items, nextPageToken: '', revision: first.revision });
  return { json, rows: [header, ...items.map((job) => jobRow(job, repos))] };
}

const ls: Command = {
  path: ['job', 'ls'],
  synopsis: 'job ls [--state S] [--kind K] [--repo R]',
  summary: 'list background jobs (of every agent, with an AGENT column, via --coordinator)',
  usage: verbUsage(
    'job ls [--state S] [--kind K] [--repo R]',
    `Lists background jobs; with --coordinator, of every agent (or of the one --on names) as the
coordinator projects them, with an AGENT column.`,
    `  --state S    only jobs in this state: ${STATE_HELP}
  --kind K     only jobs of this kind: ${KIND_HELP}
  --repo R     only jobs of this repo (name or id)
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {
      ...ROUTE_OPTIONS,
      state: { type: 'string' },
      kind: { type: 'string' },
      repo: { type: 'string', default: '' },
    });
    expectPositionals('job ls', positionals, []);
    const filter = {
      state: enumFlag('--state', values.state, JobState, 'JOB_STATE_'),
      kind: enumFlag('--kind', values.kind, JobKind, 'JOB_KIND_'),
      repo: values.repo,
    };
    const { json, rows } = await withCaller(values, io, (caller) => listJobs(caller, filter));
    if (values.json) return io.outExact(formatJsonLine(json));
    if (rows.length === 1) return io.err('no jobs\n');
    io.out(formatTable(rows));
  },
};

const get: Command = {
  path: ['job', 'get'],
  synopsis: 'job get ID',
  summary: 'show a background job',
  usage: verbUsage('job get ID', 'Shows a job: its parameters, progress, and result or error.', ROUTE_FLAG_HELP),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    const [id] = expectPositionals('job get', positionals, ['ID']);
    const { response: job, agent } = await withCaller(values, io, (caller) => caller.call('getJob', { id }));
    if (values.json) return io.outExact(formatJsonLine(Job.toJSON(job)));
    io.out(
      formatTable([
        ['ID', job.id],
        ['KIND', jobKindLabel(job)],
        ['STATE', jobStateLabel(job)],
        ['PROGRESS', `${job.progressPercent}% ${job.progressMessage}`],
        ['REPO', orDash(job.repoId)],
        ['BRANCH', orDash(job.branch)],
        ['BASE', orDash(job.base)],
        ['SESSION', orDash(job.sessionId)],
        ['KEY', orDash(job.idempotencyKey)],
        ['RESULT', orDash(job.result)],
        ['ERROR', orDash(job.error)],
        ['ATTEMPTS', String(job.attempts)],
        ...(agent ? [['AGENT', agent.name]] : []),
        ['CREATED', formatTime(job.createTime)],
        ['STARTED', formatTime(job.startTime)],
        ['ENDED', formatTime(job.endTime)],
      ]),
    );
  },
};

const cancel: Command = {
  path: ['job', 'cancel'],
  synopsis: 'job cancel ID',
  summary: 'cancel a background job',
  usage: verbUsage(
    'job cancel ID',
    'Cancels a job: a queued one at once; a running one is stopped (a rebase it began is aborted).',
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    const [id] = expectPositionals('job cancel', positionals, ['ID']);
    const { response, agent } = await withCaller(values, io, (caller) => caller.call('cancelJob', { id }));
    if (values.json) return io.outExact(formatJsonLine(CancelJobResponse.toJSON(response)));
    const job = response.job;
    io.out(job && isJobFinished(job) ? `job ${id} ${jobStateLabel(job)}${onAgent(agent)}\n` : `cancelling job ${id}${onAgent(agent)}\n`);
  },
};

const wait: Command = {
  path: ['job', 'wait'],
  synopsis: 'job wait ID',
  summary: "show a job's progress until it ends; exit 0 only if it SUCCEEDED",
  usage: verbUsage(
    'job wait ID',
    `Shows the job's progress until it ends: a bar redrawn in place on a terminal, a line per
change otherwise ("42% rebasing x onto main"); with --json, the job as one line per change.
It watches the agent's events (the coordinator's, with --coordinator) rather than polling.
Exit status: 0 when the job SUCCEEDED, 1 when it FAILED (its error is printed) or was
CANCELLED, 130 when you stop waiting (the job goes on).`,
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    const [id] = expectPositionals('job wait', positionals, ['ID']);
    await followJob(values, io, id);
  },
};

/**
 * Shows a job's progress until it ends (`job wait`, and verbs with --wait); returns when it
 * SUCCEEDED, and throws the exit status otherwise.
 */
export async function followJob(values: CallerValues & { json?: boolean | undefined }, io: CliIo, id: string): Promise<void> {
  const progress = new ProgressLine((text) => io.outExact(text), io.isTTY);
  const interrupt = abortOnSignals();
  let job: Job;
  try {
    job = await withCaller(values, io, (caller) =>
      waitForJob(caller, id, {
        signal: interrupt.signal,
        onJob: (seen) =>
          values.json ? io.outExact(formatJsonLine(Job.toJSON(seen))) : progress.update(seen.progressPercent, seen.progressMessage),
        notice: (text) => {
          progress.finish();
          io.err(text);
        },
      }),
    );
  } catch (err) {
    progress.finish();
    if (interrupt.signal.aborted || isAbortError(err)) throw new ExitError(`stopped waiting; job ${id} goes on`, EXIT_STOPPED);
    throw err;
  } finally {
    interrupt.dispose();
  }
  progress.finish();
  if (job.state === JobState.JOB_STATE_SUCCEEDED) {
    if (!values.json) io.out(`job ${id} SUCCEEDED: ${orDash(job.result)}\n`);
    return;
  }
  const why = job.state === JobState.JOB_STATE_FAILED ? `: ${orDash(job.error)}` : '';
  throw new ExitError(`job ${id} ${jobStateLabel(job)}${why}`, EXIT_CALL_FAILED);
}

export const jobCommands: readonly Command[] = [submit, ls, get, cancel, wait];
