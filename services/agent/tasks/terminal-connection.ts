import { connect, type Socket } from 'node:net';
import { encodeFrame, FRAME, FrameReader, socketPath } from '../procs/terminal-frames.js';

export type TerminalFrame = { kind: 'replay' | 'output'; data: Buffer } | { kind: 'exit'; code: number | null; signal: string | null };

/**
 * One connection to a terminal task's runner socket: the agent opens one per attach and per
 * send, so nothing about terminals lives in the agent between calls (an agent restart loses
 * nothing). Reading is pull-based: a client that stops reading stops this socket, and the
 * runner drops a connection that falls too far behind instead of slowing the task.
 */
export class TerminalConnection {
  private constructor(private readonly socket: Socket) {}

  static open(runDir: string): Promise<TerminalConnection> {
    const target = socketPath(runDir);
    return new Promise((resolve, reject) => {
      const socket = connect({ path: target.path });
      socket.once('connect', () => {
        target.release();
        socket.removeAllListeners('error');
        socket.on('error', () => socket.destroy());
        resolve(new TerminalConnection(socket));
      });
      socket.once('error', (err) => {
        target.release();
        reject(err);
      });
    });
  }

  /** Frames until the runner closes the connection (after `exit`, or because it died). */
  async *frames(): AsyncGenerator<TerminalFrame> {
    const reader = new FrameReader();
    for await (const chunk of this.socket as AsyncIterable<Buffer>) {
      for (const frame of reader.push(chunk)) {
        if (frame.type === FRAME.replay) yield { kind: 'replay', data: frame.payload };
        else if (frame.type === FRAME.output) yield { kind: 'output', data: frame.payload };
        else if (frame.type === FRAME.exit) {
          const exit = JSON.parse(frame.payload.toString('utf8')) as { code: number | null; signal: string | null };
          yield { kind: 'exit', ...exit };
        }
      }
    }
  }

  /** Resolves once the bytes are handed to the kernel. */
  write(data: Buffer): Promise<void> {
    return this.send(encodeFrame(FRAME.input, data));
  }

  resize(cols: number, rows: number): Promise<void> {
    return this.send(encodeFrame(FRAME.resize, JSON.stringify({ cols, rows })));
  }

  private send(frame: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(frame, (err) => (err ? reject(err) : resolve())));
  }

  /** Ends our side after what was written is sent. */
  end(): Promise<void> {
    return new Promise((resolve) => {
      this.socket.end(() => resolve());
      this.socket.once('close', () => resolve());
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
