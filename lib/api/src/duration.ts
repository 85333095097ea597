// Durations, in Go's syntax (time.ParseDuration) as Kubernetes components and the CRDs write
// them: a sequence of decimal numbers each with a unit, e.g. "500ms", "90s", "1h30m", "2.5m".
// Command-line flags take the units ms, s, m and h; a CRD field takes what its CEL rule admits.

/** Milliseconds per unit. Go also has ns and us, which nothing here needs. */
const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

export type DurationUnit = keyof typeof unitMs;

/** What a duration flag takes. */
export const flagDurationUnits: readonly DurationUnit[] = ['ms', 's', 'm', 'h'];

/**
 * What the CRDs' duration fields admit (their CEL rule `^([0-9]{1,5}(\.[0-9]+)?(h|m|s))+$`):
 * no milliseconds, at most 5 digits before a decimal point.
 */
export const crdDuration = { units: ['h', 'm', 's'], maxDigits: 5 } as const satisfies {
  units: readonly DurationUnit[];
  maxDigits: number;
};

/**
 * Milliseconds in `text`, rounded; undefined unless it is a duration of more than zero made of
 * `units` (and of numbers of at most `maxDigits` digits before the point, when given).
 */
export function parseDuration(
  text: string,
  grammar: { readonly units: readonly DurationUnit[]; readonly maxDigits?: number } = {
    units: flagDurationUnits,
  },
): number | undefined {
  // Longest unit first, so "ms" is not read as "m" followed by garbage.
  const units = [...grammar.units].sort((a, b) => b.length - a.length).join('|');
  const digits = grammar.maxDigits === undefined ? '+' : `{1,${String(grammar.maxDigits)}}`;
  const part = `(\\d${digits}(?:\\.\\d+)?)(${units})`;
  if (units === '' || !new RegExp(`^(?:${part})+$`).test(text)) return undefined;
  let ms = 0;
  for (const [, value, unit] of text.matchAll(new RegExp(part, 'g'))) {
    ms += Number(value) * unitMs[unit as DurationUnit];
  }
  return ms > 0 ? Math.round(ms) : undefined;
}
