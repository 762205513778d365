/** A refused call, as the coordinator's HTTP API reports it: the gRPC code's name, a reason, a message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Listeners told when the API answers 401: the page shows the login again. */
const unauthenticated = new Set<() => void>();
export const onUnauthenticated = (listener: () => void) => {
  unauthenticated.add(listener);
  return () => unauthenticated.delete(listener);
};

/** The page's credentials were refused (a stream cannot say so itself; it asks /api/auth). */
export const reportUnauthenticated = () => unauthenticated.forEach((listener) => listener());

async function post(path: string, body: unknown): Promise<unknown> {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await response.text();
  const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!response.ok) {
    if (response.status === 401) unauthenticated.forEach((listener) => listener());
    throw new ApiError(
      response.status,
      String(json.code ?? response.status),
      String(json.reason ?? ''),
      String(json.message ?? response.statusText),
    );
  }
  return json;
}

/** A unary CoordinatorService call, in the JSON form ts-proto's toJSON/fromJSON use. */
export const coordinatorCall = (method: string, request: object = {}) => post(`/api/call/coordinator/${method}`, request);

/** A unary AgentService call routed by the coordinator (to `agent` when given, else by the ids it carries). */
export async function agentCall(
  method: string,
  request: object,
  agent = '',
): Promise<{ agent: { id: string; name: string }; response: unknown }> {
  return (await post(`/api/call/agent/${method}`, { agent, request })) as { agent: { id: string; name: string }; response: unknown };
}

export async function authState(): Promise<{ required: boolean; authenticated: boolean }> {
  const response = await fetch('/api/auth', { credentials: 'same-origin' });
  return (await response.json()) as { required: boolean; authenticated: boolean };
}

export const login = (token: string) => post('/api/login', { token });
export const logout = () => post('/api/logout', {});
