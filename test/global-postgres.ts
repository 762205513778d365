import type { TestProject } from 'vitest/node';
import { startThrowawayPostgres } from './helpers/postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server's URL; tests make their own databases on it (createDatabase). */
    postgresUrl: string;
  }
}

/**
 * One real PostgreSQL server for the whole run: GROVE_TEST_POSTGRES_URL when given, else a
 * throwaway cluster under a temp directory, stopped and removed after the run.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const given = process.env.GROVE_TEST_POSTGRES_URL;
  if (given) {
    project.provide('postgresUrl', given);
    return undefined;
  }
  const server = await startThrowawayPostgres();
  project.provide('postgresUrl', server.url);
  return () => server.stop();
}
