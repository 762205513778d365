import { GROVE_VERSION } from '../../../services/common/version.js';
import { expectPositionals, parseVerbArgs } from '../args.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { verbUsage } from '../help.js';
import { formatJsonLine } from '../output/json.js';

const version: Command = {
  path: ['version'],
  synopsis: 'version',
  summary: 'print the version of this grove client',
  usage: verbUsage('version', 'Prints the version of this grove client.'),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {});
    expectPositionals('version', positionals, []);
    io.out(values.json ? formatJsonLine({ version: GROVE_VERSION }) : `grove ${GROVE_VERSION}\n`);
  },
};

export const versionCommands: readonly Command[] = [version];
