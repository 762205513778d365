/**
 * An AbortSignal fired by SIGINT or SIGTERM, for verbs that run until stopped: they end
 * cleanly instead of dying mid-write. `dispose` restores the default signal behaviour.
 */
export function abortOnSignals(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', abort);
      process.off('SIGTERM', abort);
    },
  };
}
