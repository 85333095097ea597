// OSUpdate spec.strategy.maxUnavailable: a node count of at least 1, or a percentage from 1% to
// 100%. The CRD's CEL rule is the API server's copy of this rule; every program uses this one.

/** maxUnavailable decoded: a number of nodes, or a percentage of the selected nodes. */
export type MaxUnavailable =
  | { readonly kind: 'nodes'; readonly nodes: number }
  | { readonly kind: 'percent'; readonly percent: number };

/** What the rule says, for error messages. */
export const maxUnavailableRule = 'an integer of at least 1 or a percentage from 1% to 100%';

const percentPattern = /^(100|[1-9][0-9]?)%$/;

/** The wire value (int-or-string) decoded; undefined for a value the CRD refuses. */
export function decodeMaxUnavailable(value: number | string): MaxUnavailable | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 1 ? { kind: 'nodes', nodes: value } : undefined;
  }
  const percent = percentPattern.exec(value)?.[1];
  return percent === undefined ? undefined : { kind: 'percent', percent: Number(percent) };
}

/**
 * What a user typed (a flag), as the wire value: "3" becomes the number 3, "50%" stays a
 * string; undefined for anything else.
 */
export function parseMaxUnavailable(text: string): number | string | undefined {
  const trimmed = text.trim();
  if (/^[1-9][0-9]{0,8}$/.test(trimmed)) return Number(trimmed);
  return percentPattern.test(trimmed) ? trimmed : undefined;
}
