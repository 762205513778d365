import { AgentServiceDefinition } from '../../../gen/grove/agent/v1/agent_service.js';

interface MessageCodec {
  decode(input: Uint8Array): unknown;
  encode(message: unknown): { finish(): Uint8Array };
}

/** One AgentService method, as routing needs it. */
export interface AgentMethod {
  /** As in the proto: "CreateSession". */
  name: string;
  requestType: MessageCodec;
  streaming: boolean;
}

// The generated definition is keyed by camelCase; clients name methods as the proto does.
// Both spellings are accepted, as on the agent's end of the link.
const METHODS = new Map<string, AgentMethod>();
for (const [key, method] of Object.entries(
  AgentServiceDefinition.methods as unknown as Record<
    string,
    { name: string; requestType: MessageCodec; requestStream: boolean; responseStream: boolean }
  >,
)) {
  const entry: AgentMethod = {
    name: method.name,
    requestType: method.requestType,
    streaming: method.requestStream || method.responseStream,
  };
  METHODS.set(method.name, entry);
  METHODS.set(key, entry);
}

export function agentMethod(name: string): AgentMethod | undefined {
  return METHODS.get(name);
}
