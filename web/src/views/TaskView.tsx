import { lazy, Suspense, useEffect, useRef, useState } from 'react';
import { agentCall, ApiError } from '../api.js';
import { plainText, taskState } from '../format.js';
import type { Live } from '../live.js';
// xterm.js is most of the page's weight: it loads when a terminal is first opened.
const Terminal = lazy(() => import('./Terminal.js').then((m) => ({ default: m.Terminal })));

// The page keeps the end of a long output; `grove task logs` has all of it.
const KEPT_CHARS = 512 * 1024;

function base64Bytes(text: string): Uint8Array {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** A task's output, following it live over the coordinator's tunnel until it ends. */
function useTaskOutput(id: string): { text: string; ended: boolean; error: string } {
  const [state, setState] = useState({ text: '', ended: false, error: '' });
  useEffect(() => {
    setState({ text: '', ended: false, error: '' });
    const decoder = new TextDecoder();
    let offset = 0;
    let source: EventSource | undefined;
    let stopped = false;
    const open = () => {
      source = new EventSource(`/api/log?task=${encodeURIComponent(id)}&offset=${offset}`);
      source.addEventListener('log', (e) => {
        // `offset` is where the chunk starts (absent when 0, as proto3 JSON leaves defaults out).
        const chunk = JSON.parse((e as MessageEvent<string>).data) as { data?: string; offset?: number };
        const bytes = base64Bytes(chunk.data ?? '');
        offset = Number(chunk.offset ?? 0) + bytes.length;
        const text = decoder.decode(bytes, { stream: true });
        setState((s) => ({ ...s, text: (s.text + text).slice(-KEPT_CHARS) }));
      });
      source.addEventListener('end', () => {
        source?.close();
        setState((s) => ({ ...s, ended: true }));
      });
      source.addEventListener('failed', (e) => {
        source?.close();
        const failure = JSON.parse((e as MessageEvent<string>).data) as { code: string; message: string };
        // The agent or its tunnel away for a moment: follow again from where the output got to.
        if (['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'UNKNOWN', 'ABORTED'].includes(failure.code)) {
          if (!stopped) setTimeout(open, 1000);
          return;
        }
        setState((s) => ({ ...s, error: failure.message }));
      });
      source.onerror = () => {
        source?.close();
        if (!stopped) setTimeout(open, 1000);
      };
    };
    open();
    return () => {
      stopped = true;
      source?.close();
    };
  }, [id]);
  return state;
}

export function TaskView({ live, id }: { live: Live; id: string }) {
  const task = live.tables.tasks.get(id);
  const output = useTaskOutput(id);
  const [input, setInput] = useState('');
  const [notice, setNotice] = useState('');
  const [attached, setAttached] = useState(false);
  const [readOnly, setReadOnly] = useState(false);
  const end = useRef<HTMLPreElement>(null);
  useEffect(() => {
    end.current?.scrollTo({ top: end.current.scrollHeight });
  }, [output.text]);
  if (!task) return <p className="empty">No task {id} in the coordinator&apos;s view (yet).</p>;
  const running = taskState(task.state) === 'RUNNING';
  const act = (what: () => Promise<unknown>, done: string) =>
    void what().then(
      () => setNotice(done),
      (err: unknown) => setNotice(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)),
    );
  return (
    <section>
      <h2>
        Task #{task.seq} <small>{task.id}</small>
      </h2>
      <p>
        <a href={`#/sessions/${task.sessionId}`}>session {task.sessionId}</a> · <code>{task.argv.join(' ')}</code> ·{' '}
        <strong data-testid="task-state">{taskState(task.state)}</strong>
        {task.exitCode !== 0 && !running ? ` (exit ${task.exitCode})` : ''}
      </p>
      <div className="actions">
        {running && (
          <button onClick={() => act(() => agentCall('CancelTask', { id }), 'cancel asked')} data-testid="cancel-task">
            Cancel
          </button>
        )}
        {running && task.tty && (
          <>
            <button onClick={() => setAttached(!attached)} data-testid="attach">
              {attached ? 'Detach' : 'Attach terminal'}
            </button>
            <label>
              <input type="checkbox" checked={readOnly} disabled={attached} onChange={(e) => setReadOnly(e.target.checked)} /> read-only
            </label>
          </>
        )}
      </div>
      {attached && (
        <Suspense fallback={<p className="empty">Loading the terminal…</p>}>
          <Terminal taskId={id} readOnly={readOnly} onEnded={() => setAttached(false)} />
        </Suspense>
      )}
      {running && !attached && (
        <form
          className="actions"
          onSubmit={(e) => {
            e.preventDefault();
            const bytes = new TextEncoder().encode(`${input}\n`);
            act(() => agentCall('SendTaskInput', { taskId: id, data: btoa(String.fromCharCode(...bytes)) }), 'sent');
            setInput('');
          }}
        >
          <input placeholder="send a line to the task" value={input} onChange={(e) => setInput(e.target.value)} data-testid="task-input" />
          <button type="submit">Send</button>
        </form>
      )}
      {notice && <p className="ok">{notice}</p>}
      <pre className="output" ref={end} data-testid="task-output">
        {plainText(output.text)}
      </pre>
      {output.ended && <p className="empty">The output ended.</p>}
      {output.error && <p className="error">{output.error}</p>}
    </section>
  );
}
