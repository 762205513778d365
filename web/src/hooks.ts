import { useEffect, useState } from 'react';

/** Re-renders every few seconds so ages ("12s ago") move on their own. */
export function useNow(everyMs = 2000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
