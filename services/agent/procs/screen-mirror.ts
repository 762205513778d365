import headless from '@xterm/headless';
import serialize from '@xterm/addon-serialize';

// Lines above the screen kept for a client that attaches; the log has everything.
const SCROLLBACK_LINES = 500;
// Output parsed behind the terminal: above HIGH the terminal is paused (its program blocks
// on write, as behind any slow terminal), below LOW it resumes.
const PENDING_HIGH = 1024 * 1024;
const PENDING_LOW = 256 * 1024;

export interface FlowControl {
  pause(): void;
  resume(): void;
}

/**
 * The terminal's screen as a terminal emulator would show it (xterm.js, headless: the
 * emulator VS Code uses to restore its terminals), so a client that attaches gets the
 * screen itself, not a tail of raw output cut in the middle of an escape sequence. Writes
 * are parsed in order; `after` callbacks and snapshots run in that same order, which is
 * what keeps a new client's replay and the live output that follows it seamless.
 */
export class ScreenMirror {
  private readonly term: headless.Terminal;
  private readonly serializer = new serialize.SerializeAddon();
  private pending = 0;
  private paused = false;

  constructor(
    size: { cols: number; rows: number },
    private readonly flow: FlowControl,
  ) {
    this.term = new headless.Terminal({ cols: size.cols, rows: size.rows, scrollback: SCROLLBACK_LINES, allowProposedApi: true });
    this.term.loadAddon(this.serializer);
  }

  /** Parses `text`; `after` runs once it is part of the screen. */
  write(text: string, after: () => void): void {
    this.pending += text.length;
    if (!this.paused && this.pending > PENDING_HIGH) {
      this.paused = true;
      this.flow.pause();
    }
    this.term.write(text, () => {
      this.pending -= text.length;
      if (this.paused && this.pending < PENDING_LOW) {
        this.paused = false;
        this.flow.resume();
      }
      after();
    });
  }

  resize(cols: number, rows: number): void {
    this.term.resize(cols, rows);
  }

  /** Runs `then` once everything written so far is parsed. */
  whenParsed(then: () => void): void {
    this.term.write('', then);
  }

  /** The screen (and its scrollback) as escape sequences, once everything written so far is parsed. */
  snapshot(then: (screen: string) => void): void {
    this.whenParsed(() => then(this.serializer.serialize({ scrollback: SCROLLBACK_LINES })));
  }
}
