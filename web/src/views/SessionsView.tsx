import { useState } from 'react';
import { useNow } from '../hooks.js';
import { age, sessionActivity, sessionState } from '../format.js';
import type { Live } from '../live.js';

const ACTIVITIES = ['WORKING', 'NEEDS_INPUT', 'IDLE', 'UNKNOWN'];
const STATES = ['ACTIVE', 'SETTING_UP', 'SETUP_FAILED', 'PENDING_BRANCH', 'STOPPED', 'ARCHIVED'];

export function SessionsView({ live }: { live: Live }) {
  const now = useNow();
  const initial = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const [search, setSearch] = useState('');
  const [activity, setActivity] = useState(initial.get('activity') ?? '');
  const [state, setState] = useState('');
  const [agent, setAgent] = useState('');
  const agents = live.tables.agents;
  const needle = search.trim().toLowerCase();
  const sessions = [...live.tables.sessions.values()]
    .filter((s) => !activity || sessionActivity(s.activity) === activity)
    .filter((s) => !state || sessionState(s.state) === state)
    .filter((s) => !agent || s.agentId === agent)
    .filter((s) => !needle || [s.id, s.branch, s.title, agents.get(s.agentId)?.name ?? ''].some((t) => t.toLowerCase().includes(needle)))
    .sort((a, b) => (b.updateTime?.getTime() ?? 0) - (a.updateTime?.getTime() ?? 0));
  return (
    <>
      <div className="filters">
        <input
          placeholder="Search branch, title, id, agent"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          data-testid="search"
        />
        <select value={activity} onChange={(e) => setActivity(e.target.value)} aria-label="activity">
          <option value="">any activity</option>
          {ACTIVITIES.map((a) => (
            <option key={a}>{a}</option>
          ))}
        </select>
        <select value={state} onChange={(e) => setState(e.target.value)} aria-label="state">
          <option value="">any state</option>
          {STATES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <select value={agent} onChange={(e) => setAgent(e.target.value)} aria-label="agent">
          <option value="">every agent</option>
          {[...agents.values()].map((a) => (
            <option key={a.id} value={a.id}>
              {a.name}
            </option>
          ))}
        </select>
      </div>
      {sessions.length === 0 ? (
        <p className="empty">No sessions{needle || activity || state || agent ? ' match' : ' yet'}.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Agent</th>
              <th>Branch</th>
              <th>Title</th>
              <th>State</th>
              <th>Activity</th>
              <th>Repos</th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => {
              const act = sessionActivity(s.activity);
              const since = act === 'UNKNOWN' ? s.lastSeenTime : s.updateTime;
              return (
                <tr key={s.id} data-testid="session-row" data-session={s.id} data-branch={s.branch}>
                  <td>{agents.get(s.agentId)?.name ?? s.agentId}</td>
                  <td>
                    <a href={`#/sessions/${s.id}`}>{s.branch}</a>
                  </td>
                  <td>{s.title || '-'}</td>
                  <td>{sessionState(s.state)}</td>
                  <td>
                    <span className={`activity ${act.toLowerCase()}`} data-testid="session-activity">
                      {act}
                    </span>{' '}
                    <small>{age(since, now)}</small>
                  </td>
                  <td>{s.worktrees.map((w) => w.repoName).join(', ')}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}
