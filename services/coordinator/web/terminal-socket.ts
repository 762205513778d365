import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ClientError } from 'nice-grpc-common';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AttachTaskRequest } from '../../../gen/grove/agent/v1/agent_service.js';
import { Task } from '../../../gen/grove/agent/v1/resources.js';
import type { CoordinatorClient } from '@grove/sdk';
import { AsyncQueue } from '../../common/async-queue.js';
import type { Logger } from '../../common/logging.js';
import { sameOrigin, type WebSessions } from './web-auth.js';

// A keystroke or a paste; a larger frame is refused by the socket itself.
const MAX_FRAME = 256 * 1024;
// Output waiting in the socket beyond this waits for the browser before more is read.
const MAX_BUFFERED = 1024 * 1024;

function refuse(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

/**
 * `/api/attach?task=ID&readOnly=1&cols=C&rows=R` as a WebSocket: the browser's terminal
 * bridged to the coordinator's routed AttachTask. Binary frames are keystrokes one way and
 * screen bytes the other; text frames are control: `{"resize":{"cols":C,"rows":R}}` from
 * the page, `{"exited":Task}` to it. Credentials and origin are checked before the upgrade.
 */
export function serveTerminals(
  server: Server,
  options: { sessions: WebSessions; client: CoordinatorClient; shutdown: AbortSignal; log: Logger },
): void {
  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== '/api/attach') return refuse(socket, '404 Not Found');
    const credential = options.sessions.credential(request);
    if (credential === 'none') return refuse(socket, '401 Unauthorized');
    if (!sameOrigin(request, credential)) return refuse(socket, '403 Forbidden');
    sockets.handleUpgrade(request, socket, head, (ws) => void bridge(ws, url, options));
  });
}

async function bridge(ws: WebSocket, url: URL, options: { client: CoordinatorClient; shutdown: AbortSignal; log: Logger }): Promise<void> {
  const input = new AsyncQueue<AttachTaskRequest>();
  const closed = new AbortController();
  const signal = AbortSignal.any([closed.signal, options.shutdown]);
  const size = (cols: unknown, rows: unknown) => ({
    cols: Math.max(0, Math.min(1000, Number(cols) || 0)),
    rows: Math.max(0, Math.min(1000, Number(rows) || 0)),
  });
  input.push({
    message: {
      $case: 'open',
      value: {
        taskId: url.searchParams.get('task') ?? '',
        readOnly: url.searchParams.get('readOnly') === '1',
        size: size(url.searchParams.get('cols'), url.searchParams.get('rows')),
      },
    },
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      input.push({ message: { $case: 'input', value: Buffer.from(data) } });
      return;
    }
    try {
      const control = JSON.parse(data.toString('utf8')) as { resize?: { cols?: unknown; rows?: unknown } };
      if (control.resize) input.push({ message: { $case: 'resize', value: size(control.resize.cols, control.resize.rows) } });
    } catch {
      ws.close(1003, 'control frames are JSON');
    }
  });
  ws.on('close', () => {
    input.end();
    closed.abort();
  });
  try {
    for await (const response of options.client.attachTask(input.drain(signal), { signal })) {
      const message = response.message;
      if (message?.$case === 'replay' || message?.$case === 'output') {
        if (ws.bufferedAmount > MAX_BUFFERED)
          await new Promise<void>((resolve) => ws.send(message.value, { binary: true }, () => resolve()));
        else ws.send(message.value, { binary: true });
      } else if (message?.$case === 'exited') {
        ws.send(JSON.stringify({ exited: Task.toJSON(message.value) }));
      }
    }
    ws.close(1000, 'the task ended');
  } catch (err) {
    if (signal.aborted) return;
    const why = err instanceof ClientError ? err.details : 'the attach failed';
    if (!(err instanceof ClientError)) options.log.error({ err }, 'terminal attach failed');
    // 4000 + the gRPC code: the page can tell NOT_FOUND from UNAVAILABLE. Reasons fit in 123 bytes.
    ws.close(4000 + (err instanceof ClientError ? err.code : 2), why.slice(0, 120));
  }
}
