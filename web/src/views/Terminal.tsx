import { FitAddon } from '@xterm/addon-fit';
import { Terminal as XTerm } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';

/**
 * A terminal task in the browser: xterm.js over the coordinator's routed attach (a
 * WebSocket to /api/attach). Keystrokes go as binary frames unless read-only; the size
 * follows the element; closing it detaches and leaves the task running.
 */
export function Terminal({ taskId, readOnly, onEnded }: { taskId: string; readOnly: boolean; onEnded: () => void }) {
  const element = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState('attaching');
  // The caller's callback changes with each of its renders; the attach must not.
  const ended = useRef(onEnded);
  ended.current = onEnded;
  useEffect(() => {
    const term = new XTerm({ convertEol: false, cursorBlink: !readOnly, disableStdin: readOnly, fontSize: 13 });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(element.current!);
    fit.fit();
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const query = new URLSearchParams({ task: taskId, cols: String(term.cols), rows: String(term.rows), readOnly: readOnly ? '1' : '0' });
    const socket = new WebSocket(`${scheme}://${location.host}/api/attach?${query}`);
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => setStatus(readOnly ? 'attached, read-only' : 'attached');
    socket.onmessage = (e: MessageEvent<ArrayBuffer | string>) => {
      if (typeof e.data === 'string') {
        const control = JSON.parse(e.data) as { exited?: { state?: string } };
        if (control.exited) setStatus(`the task ended: ${control.exited.state ?? ''}`);
        return;
      }
      term.write(new Uint8Array(e.data));
    };
    socket.onclose = (e) => {
      setStatus(e.code === 1000 || e.code === 1005 ? 'detached' : `detached: ${e.reason || e.code}`);
      if (e.code === 1000) ended.current();
    };
    const encoder = new TextEncoder();
    const typed = term.onData((data) => {
      if (!readOnly && socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
    });
    const resized = term.onResize(({ cols, rows }) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ resize: { cols, rows } }));
    });
    const observer = new ResizeObserver(() => fit.fit());
    observer.observe(element.current!);
    term.focus();
    return () => {
      observer.disconnect();
      typed.dispose();
      resized.dispose();
      socket.close(1000);
      term.dispose();
    };
  }, [taskId, readOnly]);
  return (
    <div className="terminal">
      <div className="terminal-status" data-testid="terminal-status">
        {status}
      </div>
      <div className="terminal-screen" ref={element} data-testid="terminal" />
    </div>
  );
}
