// -o table|json|yaml: how commands that print resources print them. json and yaml give the
// resources exactly as the API returned them, wrapped in a v1 List like kubectl's.
import { stringify } from 'yaml';
import { MetroctlError } from '../errors.js';

export const outputFormats = ['table', 'json', 'yaml'] as const;

export type OutputFormat = (typeof outputFormats)[number];

/** The format `text` names; METROCTL_USAGE otherwise. */
export function parseOutputFormat(text: string): OutputFormat {
  const format = outputFormats.find((name) => name === text);
  if (format === undefined) {
    throw new MetroctlError(
      'METROCTL_USAGE',
      `unknown output format "${text}": use ${outputFormats.join(', ')}`,
    );
  }
  return format;
}

/** `items` as a kubectl-style List in JSON or YAML, ending in a newline. */
export function renderResourceList(items: readonly unknown[], format: 'json' | 'yaml'): string {
  const list = { apiVersion: 'v1', kind: 'List', items };
  return format === 'json' ? `${JSON.stringify(list, null, 2)}\n` : stringify(list);
}
