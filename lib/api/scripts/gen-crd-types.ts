// Generates TypeScript types from CustomResourceDefinition YAML: <crds>/<kind>.yaml becomes
// <out>/<kind>.ts plus an index.ts. `npm run gen` runs it (then prettier); the YAML is the source.
// Usage: tsx scripts/gen-crd-types.ts <crd-directory> <output-directory>
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';

/** The subset of a CRD's structural schema (JSONSchemaProps) this generator understands. */
interface Schema {
  type?: string;
  title?: string;
  description?: string;
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-validations'?: { rule: string; message?: string; fieldPath?: string }[];
}

interface CrdVersion {
  name: string;
  storage: boolean;
  schema?: { openAPIV3Schema?: Schema };
}

interface Crd {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; plural: string; listKind?: string };
    versions: CrdVersion[];
  };
}

/** Where a titled schema occurs: an object property describes a field, anything else a value. */
interface Occurrence {
  schema: Schema;
  isProperty: boolean;
}

const width = 100;

class GeneratorError extends Error {
  override name = 'GeneratorError';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the fields every CRD has; the schemas are checked as they are walked. */
function isCrd(value: Record<string, unknown>): value is Record<string, unknown> & Crd {
  const { apiVersion, metadata, spec } = value;
  return (
    apiVersion === 'apiextensions.k8s.io/v1' &&
    isRecord(metadata) &&
    typeof metadata['name'] === 'string' &&
    isRecord(spec) &&
    typeof spec['group'] === 'string' &&
    isRecord(spec['names']) &&
    Array.isArray(spec['versions'])
  );
}

/** `MonogonNode` -> `monogon-node`, `OSUpdate` -> `os-update`: an acronym is one word. */
function kebab(name: string): string {
  return name.replace(/(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/g, '-').toLowerCase();
}

/** `MonogonNode` -> `monogonNode`, `OSUpdate` -> `osUpdate`: a leading acronym is lowered whole. */
function camel(name: string): string {
  const acronym = /^[A-Z]+(?=[A-Z][a-z]|$)/.exec(name)?.[0] ?? name.charAt(0);
  return acronym.toLowerCase() + name.slice(acronym.length);
}

/** Word-wraps a doc comment; paragraphs (newlines in the YAML) are kept. */
function docComment(paragraphs: readonly string[], indent: string): string[] {
  const lines: string[] = [];
  for (const paragraph of paragraphs) {
    if (paragraph === '') {
      lines.push('');
      continue;
    }
    let line = '';
    for (const word of paragraph.split(/\s+/).filter((w) => w !== '')) {
      if (line !== '' && indent.length + 3 + line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line === '' ? word : `${line} ${word}`;
      }
    }
    lines.push(line);
  }
  while (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) return [];
  const escaped = lines.map((line) => line.replaceAll('*/', '*\\/'));
  if (escaped.length === 1 && indent.length + 7 + (escaped[0]?.length ?? 0) <= width) {
    return [`${indent}/** ${escaped[0] ?? ''} */`];
  }
  return [
    `${indent}/**`,
    ...escaped.map((line) => (line === '' ? `${indent} *` : `${indent} * ${line}`)),
    `${indent} */`,
  ];
}

/** The doc of a field or type: description, the API server's rules, the default. */
function docParagraphs(schema: Schema): string[] {
  const paragraphs = (schema.description ?? '').split('\n');
  const rules = (schema['x-kubernetes-validations'] ?? []).filter((r) => r.message);
  if (rules.length > 0) paragraphs.push('');
  for (const rule of rules) {
    const where = rule.fieldPath ? ` (${rule.fieldPath.replace(/^\./, '')})` : '';
    paragraphs.push(`Validation rule${where}: ${rule.message ?? ''}`);
  }
  if (schema.default !== undefined) {
    paragraphs.push('', `@default ${JSON.stringify(schema.default)}`);
  }
  return paragraphs;
}

function withoutDescription(schema: Schema): Schema {
  const { description: _description, ...rest } = schema;
  return rest;
}

/** Collects every titled schema in pre-order; all occurrences of a title must agree. */
function collectTitles(
  schema: Schema,
  isProperty: boolean,
  titles: Map<string, Occurrence[]>,
  path: string,
): void {
  if (schema.title !== undefined) {
    const seen = titles.get(schema.title);
    const first = seen?.[0];
    if (first && !isDeepStrictEqual(withoutDescription(first.schema), withoutDescription(schema))) {
      throw new GeneratorError(`${path}: title ${schema.title} names two different schemas`);
    }
    titles.set(schema.title, [...(seen ?? []), { schema, isProperty }]);
  }
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    collectTitles(property, true, titles, `${path}.${name}`);
  }
  if (schema.items) collectTitles(schema.items, false, titles, `${path}[]`);
  if (isRecord(schema.additionalProperties)) {
    collectTitles(schema.additionalProperties, false, titles, `${path}{}`);
  }
}

/** `MonogonNodeRole` -> `monogonNodeRoles`, `OSUpdateFailurePolicy` -> `osUpdateFailurePolicies`. */
function plural(name: string): string {
  if (/[^aeiou]y$/.test(name)) return `${name.slice(0, -1)}ies`;
  if (/(s|x|ch|sh)$/.test(name)) return `${name}es`;
  return `${name}s`;
}

/**
 * A titled enum's values as an array in the CRD's order (the canonical order), so programs
 * validate and sort against the YAML instead of a copy of it.
 */
function enumValues(title: string, schema: Schema): string[] {
  if (!schema.enum) return [];
  const values = schema.enum.map((value) => JSON.stringify(value)).join(', ');
  return [
    ...docComment([`Every ${title}, in the CRD's order.`], ''),
    `export const ${plural(camel(title))} = [${values}] as const satisfies readonly ${title}[];`,
  ];
}

/** Emits the declarations of one CRD's storage version. */
class TypeEmitter {
  readonly #declarations: string[] = [];
  readonly #declared = new Set<string>();
  readonly #titles: Map<string, Occurrence[]>;
  readonly #root: Schema;
  readonly #prefix: string;

  constructor(root: Schema, prefix: string, titles: Map<string, Occurrence[]>) {
    this.#root = root;
    this.#prefix = prefix;
    this.#titles = titles;
  }

  emit(): string[] {
    if (this.#root.title === undefined) throw new GeneratorError('the root schema needs a title');
    this.#declare(this.#root.title);
    return this.#declarations;
  }

  /** Declares a titled type where it is first used, so declarations read top-down. */
  #declare(title: string): void {
    if (this.#declared.has(title)) return;
    this.#declared.add(title);
    const occurrences = this.#titles.get(title) ?? [];
    // An item's description describes a value; a property's describes a field.
    const value = occurrences.find((o) => !o.isProperty) ?? occurrences[0];
    if (!value) throw new GeneratorError(`no schema titled ${title}`);
    const slot = this.#declarations.push('') - 1;
    const { schema } = value;
    // The root's rules (on metadata.name) go into the type's doc: no field of ours carries them.
    const paragraphs =
      schema === this.#root ? docParagraphs(schema) : (schema.description ?? '').split('\n');
    const doc = docComment(paragraphs, '');
    const body =
      schema.properties === undefined
        ? `export type ${title} = ${this.#inline(schema, '')};`
        : `export interface ${title} ${this.#object(schema, '')}`;
    this.#declarations[slot] = [...doc, body, ...enumValues(title, schema)].join('\n');
  }

  #type(schema: Schema, indent: string): string {
    if (schema.title !== undefined) {
      this.#declare(schema.title);
      return schema.title;
    }
    return this.#inline(schema, indent);
  }

  #inline(schema: Schema, indent: string): string {
    const type = this.#nonNull(schema, indent);
    return schema.nullable ? `${type} | null` : type;
  }

  #nonNull(schema: Schema, indent: string): string {
    if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
    if (schema['x-kubernetes-int-or-string']) return 'number | string';
    switch (schema.type) {
      case 'string':
        return 'string';
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'array': {
        if (!schema.items) throw new GeneratorError('an array schema needs items');
        const item = this.#type(schema.items, indent);
        return item.includes('|') ? `(${item})[]` : `${item}[]`;
      }
      case 'object': {
        if (schema.properties) return this.#object(schema, indent);
        if (isRecord(schema.additionalProperties)) {
          return `Record<string, ${this.#type(schema.additionalProperties, indent)}>`;
        }
        return 'Record<string, unknown>';
      }
      default:
        throw new GeneratorError(`unsupported schema type ${String(schema.type)}`);
    }
  }

  #object(schema: Schema, indent: string): string {
    const inner = `${indent}  `;
    const required = new Set(schema.required ?? []);
    const members = Object.entries(schema.properties ?? {}).map(([name, property]) => {
      const key = /^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name);
      const envelope = schema === this.#root ? this.#envelope(name) : undefined;
      // The envelope is always there on the wire, and a create needs it.
      const optional = envelope === undefined && !required.has(name) ? '?' : '';
      const type = envelope ?? this.#type(property, inner);
      const doc = docComment(docParagraphs(property), inner);
      return [...doc, `${inner}${key}${optional}: ${type};`].join('\n');
    });
    return `{\n${members.join('\n')}\n${indent}}`;
  }

  /** apiVersion, kind and metadata of the root object get precise types. */
  #envelope(name: string): string | undefined {
    if (name === 'apiVersion') return `typeof ${this.#prefix}ApiVersion`;
    if (name === 'kind') return `typeof ${this.#prefix}Kind`;
    if (name === 'metadata') return 'ObjectMeta';
    return undefined;
  }
}

function render(crd: Crd, source: string): { kind: string; text: string } {
  const version = crd.spec.versions.find((v) => v.storage);
  const root = version?.schema?.openAPIV3Schema;
  if (!version || !root) throw new GeneratorError(`${source}: no storage version with a schema`);
  const { group, names } = crd.spec;
  if (root.title !== names.kind) {
    throw new GeneratorError(`${source}: the root schema's title must be the kind, ${names.kind}`);
  }
  const prefix = camel(names.kind);
  const titles = new Map<string, Occurrence[]>();
  collectTitles(root, false, titles, names.kind);
  const declarations = new TypeEmitter(root, prefix, titles).emit();
  const listKind = names.listKind ?? `${names.kind}List`;
  const constant = (doc: string, name: string, value: string): string =>
    [...docComment([doc], ''), `export const ${prefix}${name} = ${JSON.stringify(value)};`].join(
      '\n',
    );
  const text = [
    `// Code generated by lib/api/scripts/gen-crd-types.ts from ${source}. DO NOT EDIT.`,
    `// The ${names.kind} custom resource (${group}/${version.name}) as JSON on the wire.`,
    '',
    "import type { ListMeta, ObjectMeta } from '../../crd/object-meta.js';",
    '',
    constant(`The API group of ${names.kind}.`, 'Group', group),
    constant(
      `The version of ${names.kind} these types describe (the storage version).`,
      'Version',
      version.name,
    ),
    constant(
      `The \`apiVersion\` of every ${names.kind}: group/version.`,
      'ApiVersion',
      `${group}/${version.name}`,
    ),
    constant(`The kind.`, 'Kind', names.kind),
    constant(
      `The resource in API paths: /apis/group/version/${names.plural}.`,
      'Plural',
      names.plural,
    ),
    constant(
      'The name of the CustomResourceDefinition: plural.group.',
      'CrdName',
      crd.metadata.name,
    ),
    ...docComment([`Where ${names.kind} lives in the API, for clients that take coordinates.`], ''),
    `export const ${prefix}Resource = {`,
    `  group: ${prefix}Group,`,
    `  version: ${prefix}Version,`,
    `  plural: ${prefix}Plural,`,
    `  kind: ${prefix}Kind,`,
    `  apiVersion: ${prefix}ApiVersion,`,
    '} as const;',
    '',
    declarations.join('\n\n'),
    '',
    ...docComment([`A list of ${names.kind}, as a LIST request returns it.`], ''),
    `export interface ${listKind} {`,
    `  apiVersion: typeof ${prefix}ApiVersion;`,
    `  kind: ${JSON.stringify(listKind)};`,
    '  metadata: ListMeta;',
    `  items: ${names.kind}[];`,
    '}',
    '',
  ].join('\n');
  return { kind: names.kind, text };
}

function main(crdDirectory: string | undefined, outDirectory: string | undefined): void {
  if (crdDirectory === undefined || outDirectory === undefined) {
    throw new GeneratorError('usage: gen-crd-types.ts <crd-directory> <output-directory>');
  }
  const files = readdirSync(crdDirectory)
    .filter((name) => name.endsWith('.yaml'))
    .sort();
  const modules: string[] = [];
  mkdirSync(outDirectory, { recursive: true });
  for (const file of files) {
    const source = `${basename(crdDirectory)}/${file}`;
    const documents = parseAllDocuments(readFileSync(join(crdDirectory, file), 'utf8'));
    for (const document of documents) {
      if (document.errors.length > 0) {
        throw new GeneratorError(`${source}: ${document.errors.map(String).join('; ')}`);
      }
      const crd: unknown = document.toJS();
      if (!isRecord(crd) || crd['kind'] !== 'CustomResourceDefinition') continue;
      if (!isCrd(crd)) {
        throw new GeneratorError(
          `${source}: not an apiextensions.k8s.io/v1 CRD with names and versions`,
        );
      }
      const { kind, text } = render(crd, source);
      writeFileSync(join(outDirectory, `${kebab(kind)}.ts`), text);
      modules.push(kebab(kind));
    }
  }
  const index = [
    '// Code generated by lib/api/scripts/gen-crd-types.ts. DO NOT EDIT.',
    '// Every custom resource type generated from the CRD YAML.',
    '',
    ...modules.sort().map((name) => `export * from './${name}.js';`),
    '',
  ].join('\n');
  writeFileSync(join(outDirectory, 'index.ts'), index);
}

main(process.argv[2], process.argv[3]);
