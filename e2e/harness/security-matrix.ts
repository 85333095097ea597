// The listener matrix of docs/security.md as data: read from the document's markdown table, so
// the security suite compares what it measures with what the document promises, cell for cell.

/** Who calls: the kinds of certificate a caller may hold, in the document's column order. */
export const callerKinds = [
  'none',
  "stranger's CA",
  'node',
  'removed node',
  'operator',
  'owner',
] as const;

export type CallerKind = (typeof callerKinds)[number];

/**
 * What a call got: served (`allowed`); turned away in the TLS handshake or by authorization
 * (`refused`); nothing listens where the caller can reach (`unreachable`).
 */
export const verdicts = ['allowed', 'refused', 'unreachable'] as const;

export type Verdict = (typeof verdicts)[number];

/** One measured cell: the verdict, or `error` for an answer that is none of them. */
export interface MeasuredCell {
  readonly verdict: Verdict | 'error';
  /** What the probe saw (status code, gRPC status, socket error), for the printed matrix. */
  readonly detail: string;
}

/** Listener name (the table's first column) → caller kind → verdict. */
export type ExpectedMatrix = ReadonlyMap<string, ReadonlyMap<CallerKind, Verdict>>;

const headerCell = 'Listener';

/** Splits a markdown table row into its trimmed cells, without backticks. */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((cell) => cell.trim().replaceAll('`', ''));
}

function isVerdict(text: string): text is Verdict {
  return (verdicts as readonly string[]).includes(text);
}

/**
 * The table whose header starts with `Listener` followed by exactly the caller kinds. Throws
 * when there is none, when a cell is not a verdict or a listener appears twice.
 */
export function parseExpectedMatrix(markdown: string): ExpectedMatrix {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => {
    const header = cells(line);
    return header[0] === headerCell && header.slice(1).join('|') === callerKinds.join('|');
  });
  if (start === -1) {
    throw new Error(
      `no table with the header | ${headerCell} | ${callerKinds.join(' | ')} | in the document`,
    );
  }
  const matrix = new Map<string, Map<CallerKind, Verdict>>();
  for (const line of lines.slice(start + 2)) {
    if (!line.trim().startsWith('|')) break;
    const [listener = '', ...row] = cells(line);
    if (row.length !== callerKinds.length) {
      throw new Error(
        `row "${listener}" has ${String(row.length)} cells, not ${String(callerKinds.length)}`,
      );
    }
    if (matrix.has(listener)) throw new Error(`listener "${listener}" appears twice`);
    const byCaller = new Map<CallerKind, Verdict>();
    callerKinds.forEach((kind, index) => {
      const text = row[index] ?? '';
      if (!isVerdict(text)) {
        throw new Error(`"${listener}" × ${kind}: "${text}" is not one of ${verdicts.join(', ')}`);
      }
      byCaller.set(kind, text);
    });
    matrix.set(listener, byCaller);
  }
  return matrix;
}

/** One line per cell where measured and expected differ: `listener × caller: expected …, measured …`. */
export function matrixDifferences(
  expected: ExpectedMatrix,
  measured: ReadonlyMap<string, ReadonlyMap<CallerKind, MeasuredCell>>,
): string[] {
  const differences: string[] = [];
  for (const listener of new Set([...expected.keys(), ...measured.keys()])) {
    const want = expected.get(listener);
    const got = measured.get(listener);
    if (want === undefined || got === undefined) {
      differences.push(
        `${listener}: ${want === undefined ? 'measured but not in the document' : 'in the document but not measured'}`,
      );
      continue;
    }
    for (const kind of callerKinds) {
      const cell = got.get(kind);
      if (cell?.verdict !== want.get(kind)) {
        differences.push(
          `${listener} × ${kind}: expected ${want.get(kind) ?? '?'}, measured ${cell?.verdict ?? 'nothing'} (${cell?.detail ?? ''})`,
        );
      }
    }
  }
  return differences;
}

/** The measured matrix as a markdown table, the same shape as the document's. */
export function formatMatrix(
  measured: ReadonlyMap<string, ReadonlyMap<CallerKind, MeasuredCell>>,
): string {
  const rows = [
    [headerCell, ...callerKinds],
    ...[...measured].map(([listener, byCaller]) => [
      listener,
      ...callerKinds.map((kind) => byCaller.get(kind)?.verdict ?? '-'),
    ]),
  ];
  const widths = rows[0]?.map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: readonly string[]): string =>
    `| ${row.map((cell, column) => cell.padEnd(widths?.[column] ?? 0)).join(' | ')} |`;
  const rule = `| ${(widths ?? []).map((width) => '-'.repeat(width)).join(' | ')} |`;
  const [header = [], ...body] = rows;
  return [line(header), rule, ...body.map(line)].join('\n');
}
