import type { CliIo } from './cli-io.js';

/** One verb of `grove`; the command table lists them all. */
export interface Command {
  /** The words that select it, e.g. `['repo', 'add']`. */
  readonly path: readonly [string, ...string[]];
  /** How it is called, for the verb list: `repo add PATH [--name NAME]`. */
  readonly synopsis: string;
  /** One line for the verb list. */
  readonly summary: string;
  /**
   * Full help for `grove help VERB` and `VERB --help`; a function when producing it is costly
   * (the serve verbs load a whole service for theirs).
   */
  readonly usage: string | (() => Promise<string>);
  /** Receives everything after the verb words, unparsed. */
  run(args: string[], io: CliIo): Promise<void>;
}
