/** `3s ago`, `5m ago`, `2h ago`, `4d ago`; `-` for a missing time. */
export function formatAge(time: Date | undefined, now: Date = new Date()): string {
  if (!time) return '-';
  const seconds = Math.max(0, Math.floor((now.getTime() - time.getTime()) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

/** `k=v,k2=v2` sorted by key, the same syntax `--labels` takes; `-` when empty. */
export function formatLabels(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return pairs.length > 0 ? pairs.map(([k, v]) => `${k}=${v}`).join(',') : '-';
}

/** An enum's JSON name without its type prefix: `AGENT_STATUS_CONNECTED` → `CONNECTED`. */
export function enumLabel(jsonName: string, prefix: string): string {
  return jsonName.startsWith(prefix) ? jsonName.slice(prefix.length) : jsonName;
}

export function formatTime(time: Date | undefined): string {
  return time ? time.toISOString() : '-';
}
