/**
 * A service cannot start, for a reason a person can act on: reported as its one line and
 * exit status, with no stack trace. `usage` marks a problem with the command line itself
 * (exit 2, as for every usage error of `grove`); anything else exits 1.
 */
export class StartupError extends Error {
  readonly usage: boolean;

  constructor(message: string, options: { usage?: boolean } = {}) {
    super(message);
    this.name = 'StartupError';
    this.usage = options.usage ?? false;
  }
}

/** A bad flag value: a usage error. */
export const badFlag = (message: string) => new StartupError(message, { usage: true });
