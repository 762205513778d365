/**
 * One JSON document per line: a command prints one, a stream prints one per message, so
 * `--json` output is always valid JSON lines. Values come from the generated `X.toJSON`,
 * which gives the proto3 canonical field names and defaults.
 */
export function formatJsonLine(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}
