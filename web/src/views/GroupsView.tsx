import { useState } from 'react';
import { coordinatorCall, ApiError } from '../api.js';
import { memberState, sessionActivity, taskState } from '../format.js';
import type { Live } from '../live.js';

export function GroupsView({ live }: { live: Live }) {
  const [notice, setNotice] = useState('');
  const [count, setCount] = useState(2);
  const [repo, setRepo] = useState('');
  const [command, setCommand] = useState('');
  const [spread, setSpread] = useState(true);
  const groups = [...live.tables.groups.values()].sort((a, b) => (b.createTime?.getTime() ?? 0) - (a.createTime?.getTime() ?? 0));
  const act = (what: () => Promise<unknown>, done: string) =>
    void what().then(
      () => setNotice(done),
      (err: unknown) => setNotice(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)),
    );
  return (
    <section>
      <form
        className="actions"
        onSubmit={(e) => {
          e.preventDefault();
          act(
            () =>
              coordinatorCall('CreateGroup', { count, spread, repos: [repo], argv: ['sh', '-c', command], title: command.slice(0, 60) }),
            'fanned out',
          );
        }}
      >
        <label>
          Attempts <input type="number" min={1} max={16} value={count} onChange={(e) => setCount(Number(e.target.value))} />
        </label>
        <input placeholder="repo" value={repo} onChange={(e) => setRepo(e.target.value)} />
        <input placeholder="command each attempt runs" value={command} onChange={(e) => setCommand(e.target.value)} />
        <label>
          <input type="checkbox" checked={spread} onChange={(e) => setSpread(e.target.checked)} /> spread over agents
        </label>
        <button type="submit" disabled={!repo || !command}>
          Fan out
        </button>
      </form>
      {notice && <p className="ok">{notice}</p>}
      {groups.length === 0 && <p className="empty">No groups.</p>}
      {groups.map((group) => (
        <div key={group.id} className="group" data-testid="group">
          <h3>
            {group.title || group.id} <small>{group.id}</small>
          </h3>
          <div className="members">
            {group.members.map((m) => (
              <div key={m.index} className={`member ${group.pickedSessionId === m.sessionId ? 'picked' : ''}`}>
                <strong>#{m.index}</strong> on {m.agentName}
                <div>
                  <a href={`#/sessions/${m.sessionId}`}>{m.branch}</a>
                </div>
                <div>
                  {/* Live from the watch: the group record holds what was made, the tasks and sessions how they are now. */}
                  {memberState(m.state)} · task {taskState(live.tables.tasks.get(m.taskId)?.state ?? m.taskState)} ·{' '}
                  {sessionActivity(live.tables.sessions.get(m.sessionId)?.activity ?? m.activity)}
                </div>
                {m.error && <div className="error">{m.error}</div>}
                {!group.pickedSessionId && m.sessionId && (
                  <div className="actions">
                    <button
                      onClick={() => act(() => coordinatorCall('PickGroup', { groupId: group.id, sessionId: m.sessionId }), 'picked')}
                    >
                      Pick
                    </button>
                    <button
                      onClick={() =>
                        act(
                          () => coordinatorCall('PickGroup', { groupId: group.id, sessionId: m.sessionId, land: true }),
                          'picked; landing',
                        )
                      }
                    >
                      Pick and land
                    </button>
                  </div>
                )}
              </div>
            ))}
          </div>
        </div>
      ))}
    </section>
  );
}
