import { invalidArgument } from './errors.js';

/**
 * Checks an enum filter from a request: unset (0) means no filter; a number the enum does
 * not define is refused, never taken as "everything" or "nothing" (a client built against a
 * newer proto would otherwise get a silently wrong list).
 */
export function checkedEnumFilter<E extends Record<string, string | number>>(
  enumType: E,
  value: number,
  field: string,
): number | undefined {
  if (!value) return undefined;
  if (typeof enumType[value] !== 'string') throw invalidArgument('BAD_FILTER', `${field} ${value} is not a value this service knows`);
  return value;
}
