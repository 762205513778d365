import { createAgentClient, createCoordinatorClient, type AgentClient, type CoordinatorClient, type GroveClientOptions } from '@grove/sdk';

/** Runs `work` with an agent client, closing its channel however `work` ends. */
export async function withAgent<T>(options: GroveClientOptions, work: (agent: AgentClient) => Promise<T>): Promise<T> {
  const client = createAgentClient(options);
  try {
    return await work(client);
  } finally {
    client.close();
  }
}

/** Runs `work` with a coordinator client, closing its channel however `work` ends. */
export async function withCoordinator<T>(options: GroveClientOptions, work: (coordinator: CoordinatorClient) => Promise<T>): Promise<T> {
  const client = createCoordinatorClient(options);
  try {
    return await work(client);
  } finally {
    client.close();
  }
}
