/**
 * The command did its work but its outcome is a non-zero exit status: a refusal, a task's
 * own exit code, a job that failed. Reported as one `grove: message` line on stderr.
 */
export class ExitError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ExitError';
  }
}
