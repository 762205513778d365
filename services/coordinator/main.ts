/** Placeholder: the coordinator process is being built (see services/coordinator/README.md). */
export const COORDINATOR_SERVE_USAGE = `grove coordinator serve [options]`;

export async function serveCoordinator(_argv: string[]): Promise<void> {
  throw new Error('coordinator serve is not built yet');
}
