import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The runner's terminal socket speaks frames: one type byte, a 32-bit big-endian length, the
 * payload. Node builtins only: the runner loads this.
 */
export const FRAME = {
  /** client → runner: bytes for the terminal */
  input: 0x01,
  /** client → runner: {"cols":N,"rows":N} */
  resize: 0x02,
  /** runner → client: the recent output, once, first */
  replay: 0x11,
  /** runner → client: live output */
  output: 0x12,
  /** runner → client: {"code":N|null,"signal":S|null}, last */
  exit: 0x13,
} as const;

export const MAX_FRAME_BYTES = 1024 * 1024;

export function encodeFrame(type: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(5);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(body.length, 1);
  return Buffer.concat([header, body]);
}

/** Splits a byte stream into frames; throws on a frame over MAX_FRAME_BYTES (a broken peer). */
export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Array<{ type: number; payload: Buffer }> {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Array<{ type: number; payload: Buffer }> = [];
    while (this.buffered.length >= 5) {
      const length = this.buffered.readUInt32BE(1);
      if (length > MAX_FRAME_BYTES) throw new Error(`terminal frame of ${length} bytes`);
      if (this.buffered.length < 5 + length) break;
      frames.push({ type: this.buffered.readUInt8(0), payload: this.buffered.subarray(5, 5 + length) });
      this.buffered = this.buffered.subarray(5 + length);
    }
    return frames;
  }
}

/**
 * A unix socket path the kernel accepts (108 bytes at most): long run directories are reached
 * through an open descriptor of the directory, /proc/self/fd/N/term.sock.
 */
export const SOCKET_NAME = 'term.sock';
export const MAX_SOCKET_PATH = 100;

/** The path to bind or connect for `runDir`'s socket, and a release for the directory descriptor. */
export function socketPath(runDir: string): { path: string; release: () => void } {
  const direct = join(runDir, SOCKET_NAME);
  if (Buffer.byteLength(direct) <= MAX_SOCKET_PATH) return { path: direct, release: () => undefined };
  const fd = openSync(runDir, 'r');
  return { path: `/proc/self/fd/${fd}/${SOCKET_NAME}`, release: () => closeSync(fd) };
}
