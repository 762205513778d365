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

/** An argv as a shell would take it back: words with anything unusual single-quoted. */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The first 12 hex digits of a commit, as git abbreviates for people; `-` when none. */
export function shortCommit(commit: string): string {
  return commit ? commit.slice(0, 12) : '-';
}

/** An empty cell would shift the columns a reader scans: show `-` instead. */
export function orDash(text: string): string {
  return text || '-';
}
