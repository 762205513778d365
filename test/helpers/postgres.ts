import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.js';

const run = promisify(execFile);

export interface ThrowawayPostgres {
  /** postgresql://grove@127.0.0.1:PORT/postgres: the server's superuser, trusted on loopback. */
  url: string;
  /** Shuts the server down, keeping its data: `start()` brings it back on the same port. */
  halt(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Debian's server binaries (initdb, pg_ctl): the newest installed major version. */
function serverBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) {
    throw new Error("PostgreSQL is not installed: `make test` installs Debian's postgresql, or set GROVE_TEST_POSTGRES_URL");
  }
  return join(root, newest, 'bin');
}

/**
 * Starts a PostgreSQL cluster of its own under a temp directory, on a free loopback port,
 * for one test run; `stop()` shuts it down and removes it. The server refuses to run as
 * root, so as root it runs as Debian's `postgres` user. fsync is off: the cluster is thrown
 * away, and the tests prove what the coordinator does, not what the disk does.
 */
export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = serverBin();
  const root = mkdtempSync(join(tmpdir(), 'grove-pg-'));
  const asRoot = process.getuid?.() === 0;
  const pgUser = asRoot ? await run('id', ['-u', 'postgres']).then(({ stdout }) => Number(stdout.trim())) : undefined;
  const pgGroup = asRoot ? await run('id', ['-g', 'postgres']).then(({ stdout }) => Number(stdout.trim())) : undefined;
  if (pgUser !== undefined && pgGroup !== undefined) chownSync(root, pgUser, pgGroup);
  const as = (command: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, command), ...args]) : run(join(bin, command), args);
  const data = join(root, 'data');
  await as('initdb', ['-D', data, '-U', 'grove', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const settings = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
    const start = async () => {
      await as('pg_ctl', ['-D', data, '-l', join(root, 'server.log'), '-o', settings, '-w', '-t', '120', 'start']);
    };
    try {
      await start();
      return {
        url: `postgresql://grove@127.0.0.1:${port}/postgres`,
        start,
        async halt() {
          await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
        },
        async stop() {
          await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
          rmSync(root, { recursive: true, force: true });
        },
      };
    } catch (err) {
      lastError = err; // most likely the port was taken meanwhile: another one
    }
  }
  rmSync(root, { recursive: true, force: true });
  throw new Error(`could not start a throwaway PostgreSQL: ${String(lastError)}`);
}

/** A fresh, empty database on the server at `serverUrl`: each test gets its own. */
export async function createDatabase(serverUrl: string): Promise<string> {
  const name = `grove_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.href;
}

/** Rows of one query against `url` (for tests that look at what a replica wrote). */
export async function queryPostgres<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}
