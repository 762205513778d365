import { useEffect, useState, type ReactNode } from 'react';
import {
  DiffSessionResponse,
  KillSessionResponse,
  ListPreservedResponse,
  type RepoDiff,
  type RepoRefusal,
} from '../../../gen/grove/agent/v1/agent_service.js';
import type { PreservedRef } from '../../../gen/grove/agent/v1/resources.js';
import { agentCall, ApiError } from '../api.js';
import { useNow } from '../hooks.js';
import { age, sessionActivity, sessionState, taskState, worktreeState } from '../format.js';
import type { Live } from '../live.js';

type Notice = { kind: 'ok' | 'error'; text: ReactNode } | undefined;

const failure = (err: unknown) =>
  err instanceof ApiError ? `${err.code}${err.reason ? ` (${err.reason})` : ''}: ${err.message}` : String(err);

export function SessionView({ live, id }: { live: Live; id: string }) {
  const now = useNow();
  const session = live.tables.sessions.get(id);
  const [notice, setNotice] = useState<Notice>();
  const [refusals, setRefusals] = useState<RepoRefusal[]>([]);
  const [diff, setDiff] = useState<RepoDiff[] | undefined>();
  const [preserved, setPreserved] = useState<PreservedRef[] | undefined>();
  const [confirming, setConfirming] = useState<RepoDiff[] | undefined>();
  const [command, setCommand] = useState('');
  const [tty, setTty] = useState(false);
  const [strategy, setStrategy] = useState('LAND_STRATEGY_MERGE');
  const [profile, setProfile] = useState('');
  const [profiles, setProfiles] = useState<string[]>([]);
  const agentId = live.tables.sessions.get(id)?.agentId ?? '';
  useEffect(() => {
    if (!agentId) return;
    agentCall('ListProfiles', {}, agentId).then(
      ({ response }) => setProfiles(((response as { profiles?: Array<{ name: string }> }).profiles ?? []).map((p) => p.name)),
      () => setProfiles([]),
    );
  }, [agentId]);
  const [busy, setBusy] = useState(false);
  if (!session) return <p className="empty">No session {id} in the coordinator&apos;s view (yet).</p>;
  const tasks = [...live.tables.tasks.values()].filter((t) => t.sessionId === id).sort((a, b) => b.seq - a.seq);
  const act = sessionActivity(session.activity);

  const run = async (what: () => Promise<ReactNode>) => {
    setBusy(true);
    setNotice(undefined);
    try {
      setNotice({ kind: 'ok', text: await what() });
    } catch (err) {
      setNotice({ kind: 'error', text: failure(err) });
    } finally {
      setBusy(false);
    }
  };
  const loadPreserved = async () => {
    const { response } = await agentCall('ListPreserved', { sessionId: id });
    const list = ListPreservedResponse.fromJSON(response).preserved;
    setPreserved(list);
    return list;
  };
  const kill = () =>
    run(async () => {
      const { response } = await agentCall('KillSession', { id });
      const answer = KillSessionResponse.fromJSON(response);
      setRefusals(answer.refusals);
      if (!answer.freed) throw new Error('kill refused: nothing was removed (see each repo below)');
      return 'killed: the worktrees are removed (restorable)';
    });
  const askCleanup = () =>
    run(async () => {
      const { response } = await agentCall('DiffSession', { sessionId: id, statOnly: true });
      setConfirming(DiffSessionResponse.fromJSON(response).repos);
      return 'confirm the cleanup below';
    });
  const cleanup = () =>
    run(async () => {
      setConfirming(undefined);
      await agentCall('CleanupSession', { id });
      const kept = await loadPreserved();
      return `cleaned up; ${kept.length} repo(s) of work preserved`;
    });

  return (
    <section>
      <h2>
        {session.branch} <small>{session.id}</small>
      </h2>
      <dl className="facts">
        <dt>Agent</dt>
        <dd>{live.tables.agents.get(session.agentId)?.name ?? session.agentId}</dd>
        <dt>State</dt>
        <dd data-testid="session-state">{sessionState(session.state)}</dd>
        <dt>Activity</dt>
        <dd>
          <span className={`activity ${act.toLowerCase()}`}>{act}</span>{' '}
          <small>{age(act === 'UNKNOWN' ? session.lastSeenTime : session.updateTime, now)}</small>
        </dd>
        {session.title && (
          <>
            <dt>Title</dt>
            <dd>{session.title}</dd>
          </>
        )}
        {session.ports.length > 0 && (
          <>
            <dt>Ports</dt>
            <dd>{session.ports.join(', ')}</dd>
          </>
        )}
        {session.lastError && (
          <>
            <dt>Last error</dt>
            <dd className="error">{session.lastError}</dd>
          </>
        )}
      </dl>

      <h3>Worktrees</h3>
      <table>
        <thead>
          <tr>
            <th>Repo</th>
            <th>State</th>
            <th>Path</th>
            <th>Preserved</th>
            <th>Note</th>
          </tr>
        </thead>
        <tbody>
          {session.worktrees.map((w) => (
            <tr key={w.repoId} data-testid="worktree-row">
              <td>{w.repoName}</td>
              <td>{worktreeState(w.state)}</td>
              <td>
                <code>{w.path}</code>
              </td>
              <td>{w.preservedRef ? <code>{w.preservedRef}</code> : '-'}</td>
              <td>{[w.lastError, w.drift, w.teardownError].filter(Boolean).join('; ') || '-'}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <div className="actions">
        <button disabled={busy} onClick={kill} data-testid="kill">
          Kill
        </button>
        <button disabled={busy} onClick={askCleanup} data-testid="cleanup">
          Clean up…
        </button>
        <button disabled={busy} onClick={() => run(async () => (await agentCall('RestoreSessions', { ids: [id] }), 'restored'))}>
          Restore
        </button>
        <button
          disabled={busy}
          onClick={() => run(async () => (await loadPreserved()).length + ' preserved ref(s)')}
          data-testid="show-preserved"
        >
          Preserved work
        </button>
        <button
          disabled={busy}
          onClick={() =>
            run(async () => {
              const { response } = await agentCall('DiffSession', { sessionId: id });
              setDiff(DiffSessionResponse.fromJSON(response).repos);
              return 'diff loaded';
            })
          }
          data-testid="diff"
        >
          Diff
        </button>
        <select value={strategy} onChange={(e) => setStrategy(e.target.value)} aria-label="land strategy">
          <option value="LAND_STRATEGY_MERGE">merge</option>
          <option value="LAND_STRATEGY_SQUASH">squash</option>
          <option value="LAND_STRATEGY_REBASE">rebase</option>
        </select>
        <button
          disabled={busy}
          onClick={() =>
            run(async () => {
              const { response } = await agentCall('LandSession', { sessionId: id, strategy });
              return `land queued as job ${(response as { job?: { id?: string } }).job?.id ?? ''}; see Jobs`;
            })
          }
        >
          Land
        </button>
      </div>
      {notice && (
        <p className={notice.kind === 'error' ? 'error' : 'ok'} data-testid="action-result">
          {notice.text}
        </p>
      )}
      {refusals.length > 0 && (
        <ul className="refusals">
          {refusals.map((r) => (
            <li key={r.repoId + r.reason} data-testid="refusal">
              <strong>{r.repoName}</strong> {r.reason}: {r.message}
            </li>
          ))}
        </ul>
      )}
      {confirming && (
        <div role="dialog" aria-label="confirm cleanup" className="dialog" data-testid="cleanup-dialog">
          <p>Cleanup removes every worktree of this session. What is not committed is preserved to a ref first:</p>
          <ul>
            {confirming.map((repo) => {
              const uncommitted = repo.files.filter((f) => f.uncommitted);
              return (
                <li key={repo.repoId}>
                  <strong>{repo.repoName}</strong>:{' '}
                  {uncommitted.length ? uncommitted.map((f) => f.path).join(', ') + ' will be preserved' : 'nothing uncommitted'}
                </li>
              );
            })}
          </ul>
          <button onClick={cleanup} data-testid="confirm-cleanup">
            Clean up
          </button>
          <button className="quiet" onClick={() => setConfirming(undefined)}>
            Cancel
          </button>
        </div>
      )}
      {preserved && (
        <>
          <h3>Preserved work</h3>
          {preserved.length === 0 ? (
            <p className="empty">Nothing preserved.</p>
          ) : (
            <ul>
              {preserved.map((p) => (
                <li key={p.ref} data-testid="preserved">
                  <strong>{session.worktrees.find((w) => w.repoId === p.repoId)?.repoName ?? p.repoId}</strong> <code>{p.ref}</code>{' '}
                  <small>{p.commit.slice(0, 12)}</small>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
      {diff && <DiffView repos={diff} />}
      {session.landings.length > 0 && (
        <>
          <h3>Landed</h3>
          <ul>
            {session.landings.map((l) => (
              <li key={l.jobId + l.repoId}>
                {l.repoName} into {l.target} at <code>{l.commit.slice(0, 12)}</code>
              </li>
            ))}
          </ul>
        </>
      )}

      <h3>Tasks</h3>
      <form
        className="actions"
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            // A profile runs a coding agent with the text as its prompt; otherwise the text is a shell command.
            const request = profile
              ? { sessionId: id, profile, prompt: command, tty }
              : { sessionId: id, argv: ['sh', '-c', command], tty };
            const { response } = await agentCall('StartTask', request);
            const task = (response as { task?: { id?: string } }).task;
            setCommand('');
            if (task?.id) location.hash = `#/tasks/${task.id}`;
            return 'task started';
          });
        }}
      >
        <select value={profile} onChange={(e) => setProfile(e.target.value)} aria-label="profile" data-testid="task-profile">
          <option value="">shell command</option>
          {profiles.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
        <input
          placeholder={profile ? `the prompt for ${profile}` : 'a command to run in the first worktree'}
          value={command}
          onChange={(e) => setCommand(e.target.value)}
          data-testid="task-command"
        />
        <label>
          <input type="checkbox" checked={tty} onChange={(e) => setTty(e.target.checked)} /> terminal
        </label>
        <button type="submit" disabled={busy || !command.trim()}>
          Run
        </button>
      </form>
      <table>
        <tbody>
          {tasks.map((t) => (
            <tr key={t.id} data-testid="task-row">
              <td>#{t.seq}</td>
              <td>
                <a href={`#/tasks/${t.id}`}>{t.argv.join(' ').slice(0, 80) || t.profile}</a>
              </td>
              <td>{taskState(t.state)}</td>
              <td>{t.setup ? 'setup' : t.tty ? 'terminal' : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function DiffView({ repos }: { repos: RepoDiff[] }) {
  return (
    <>
      <h3>Changes since the base</h3>
      {repos.map((repo) => (
        <div key={repo.repoId} data-testid="diff-repo">
          <h4>
            {repo.repoName} <small>against {repo.base}</small>
          </h4>
          <table>
            <tbody>
              {repo.files.map((f) => (
                <tr key={f.path}>
                  <td>
                    <code>{f.path}</code>
                  </td>
                  <td className="plus">+{f.additions}</td>
                  <td className="minus">-{f.deletions}</td>
                  <td>{f.uncommitted ? 'uncommitted' : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {repo.patchOmitted ? (
            <p className="empty">The patch is too large to show.</p>
          ) : (
            repo.patch && <pre className="patch">{repo.patch}</pre>
          )}
        </div>
      ))}
    </>
  );
}
