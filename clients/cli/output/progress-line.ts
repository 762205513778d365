import { terminalSafe } from './terminal-safe.js';

const BAR_WIDTH = 24;

/**
 * A job's progress for people. On a terminal one bar is redrawn in place (carriage return,
 * erase line); anywhere else each change is a line of its own, so logs stay readable.
 */
export class ProgressLine {
  private last = '';
  private drawn = false;

  constructor(
    private readonly write: (text: string) => void,
    private readonly inPlace: boolean,
  ) {}

  update(percent: number, message: string): void {
    const clamped = Math.max(0, Math.min(100, Math.round(percent)));
    const text = `${String(clamped).padStart(3)}% ${terminalSafe(message)}`;
    if (text === this.last) return;
    this.last = text;
    if (!this.inPlace) return this.write(`${text.trimStart()}\n`);
    const filled = Math.round((clamped / 100) * BAR_WIDTH);
    this.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${text}`);
    this.drawn = true;
  }

  /** Ends the bar's line so what follows starts on a fresh one. */
  finish(): void {
    if (this.drawn) this.write('\n');
    this.drawn = false;
  }
}
