// -o table|json|yaml: how commands that print resources print them. json and yaml give the
// resources as the API returned them, wrapped in a v1 List, without metadata.managedFields: what
// kubectl -o json|yaml prints.
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

/** One resource in JSON or YAML, as `kubectl get KIND NAME -o json|yaml` prints it. */
export function renderResource(item: unknown, format: 'json' | 'yaml'): string {
  const shown = withoutManagedFields(item);
  return format === 'json' ? `${JSON.stringify(shown, null, 2)}\n` : stringify(shown);
}

/** `items` as a kubectl-style List in JSON or YAML, ending in a newline. */
export function renderResourceList(items: readonly unknown[], format: 'json' | 'yaml'): string {
  return renderResource(
    { apiVersion: 'v1', kind: 'List', items: items.map(withoutManagedFields) },
    format,
  );
}

/** The resource without metadata.managedFields (server bookkeeping kubectl hides too). */
function withoutManagedFields(item: unknown): unknown {
  if (typeof item !== 'object' || item === null) return item;
  const metadata: unknown = Reflect.get(item, 'metadata');
  if (typeof metadata !== 'object' || metadata === null || !('managedFields' in metadata)) {
    return item;
  }
  const { managedFields: _managedFields, ...rest } = metadata;
  return { ...item, metadata: rest };
}
