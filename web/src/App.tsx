import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { SessionActivity, type Session } from '../../gen/grove/agent/v1/resources.js';
import { authState, login, logout, onUnauthenticated } from './api.js';
import { Live } from './live.js';
import { AgentsView } from './views/AgentsView.js';
import { GroupsView } from './views/GroupsView.js';
import { JobsView } from './views/JobsView.js';
import { SessionsView } from './views/SessionsView.js';
import { SessionView } from './views/SessionView.js';
import { TaskView } from './views/TaskView.js';

/** The page's place, in the URL's hash: #/sessions, #/sessions/ID, #/tasks/ID, ... */
function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  return parts.length ? parts : ['sessions'];
}

function Login({ onDone }: { onDone: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  return (
    <main className="login" data-testid="login">
      <h1>Grove</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          login(token).then(onDone, (err: Error) => setError(err.message));
        }}
      >
        <label>
          Coordinator token
          <input type="password" autoFocus value={token} onChange={(e) => setToken(e.target.value)} data-testid="token" />
        </label>
        <button type="submit">Log in</button>
        {error && <p className="error">{error}</p>}
      </form>
    </main>
  );
}

function Fleet({ live }: { live: Live }) {
  useSyncExternalStore(live.subscribe, live.snapshot);
  const route = useRoute();
  const [notify, setNotify] = useState(typeof Notification !== 'undefined' && Notification.permission === 'granted');
  const waiting = [...live.tables.sessions.values()].filter((s) => s.activity === SessionActivity.SESSION_ACTIVITY_NEEDS_INPUT);
  useEffect(() => {
    live.onNeedsInput = (session: Session) => {
      if (notify && typeof Notification !== 'undefined' && Notification.permission === 'granted') {
        new Notification(`Grove: ${session.branch} needs input`, { body: session.title || session.id, tag: session.id });
      }
    };
  }, [live, notify]);
  const [view, id] = route;
  const tab = (name: string, text: string) => (
    <a href={`#/${name}`} className={view === name ? 'tab current' : 'tab'}>
      {text}
    </a>
  );
  return (
    <>
      <header>
        <strong className="brand">Grove</strong>
        <nav>
          {tab('agents', 'Agents')}
          {tab('sessions', 'Sessions')}
          {tab('jobs', 'Jobs')}
          {tab('groups', 'Groups')}
        </nav>
        <a
          href="#/sessions?activity=NEEDS_INPUT"
          className={waiting.length ? 'badge hot' : 'badge'}
          data-testid="needs-input-count"
          title="sessions waiting for a person"
        >
          {waiting.length} need input
        </a>
        <button
          className="quiet"
          onClick={() => {
            if (typeof Notification === 'undefined') return;
            void Notification.requestPermission().then((p) => setNotify(p === 'granted' && !notify));
          }}
        >
          {notify ? 'Notifications on' : 'Notify me'}
        </button>
        <span className={`link ${live.state}`} data-testid="link-state">
          {live.state}
        </span>
        <button className="quiet" onClick={() => void logout().then(() => location.reload())}>
          Log out
        </button>
      </header>
      <main>
        {view === 'agents' && <AgentsView live={live} />}
        {view === 'sessions' && !id && <SessionsView live={live} />}
        {view === 'sessions' && id && <SessionView live={live} id={id} />}
        {view === 'tasks' && id && <TaskView live={live} id={id} />}
        {view === 'jobs' && <JobsView live={live} />}
        {view === 'groups' && <GroupsView live={live} />}
      </main>
    </>
  );
}

export function App() {
  const [phase, setPhase] = useState<'checking' | 'login' | 'ready'>('checking');
  const live = useMemo(() => new Live(), []);
  const check = () =>
    void authState().then(
      ({ authenticated }) => setPhase(authenticated ? 'ready' : 'login'),
      () => setPhase('login'),
    );
  useEffect(() => {
    check();
  }, []);
  useEffect(() => {
    const stop = onUnauthenticated(() => setPhase('login'));
    return () => void stop();
  }, []);
  useEffect(() => {
    if (phase !== 'ready') return;
    live.start();
    return () => live.stop();
  }, [phase, live]);
  if (phase === 'checking') return null;
  if (phase === 'login') return <Login onDone={check} />;
  return <Fleet live={live} />;
}
