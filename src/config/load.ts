import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import {
  type Document,
  isMap,
  isScalar,
  LineCounter,
  type Node,
  parseAllDocuments,
  parseDocument,
} from 'yaml';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { formatPath, type Locate, type PathPart } from './path.js';
import { topologySchema } from './schema.js';
import validateShape from './shape-validator.cjs';
import type { Topology } from './types.js';
import { validateTopology } from './validate.js';

/** Limits that keep a hostile file from costing more than a moment. */
export const limits = {
  maxBytes: 512 * 1024,
  maxDepth: 32,
  maxAliases: 100,
} as const;

/** A loaded, valid topology with the warnings found on the way. */
export interface LoadedTopology {
  file: string;
  topology: Topology;
  warnings: ConfigIssue[];
}

/** Reads, parses and validates a topology file; throws ConfigError with every problem found. */
export async function loadTopology(file: string): Promise<LoadedTopology> {
  let text: string;
  try {
    const info = await stat(file);
    if (info.size > limits.maxBytes) {
      throw new ConfigError(file, [
        issue([], `file is ${info.size} bytes; a topology may be at most ${limits.maxBytes}`),
      ]);
    }
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(error);
    throw new ConfigError(file, [issue([], `cannot read the topology: ${why}; pass one with -f FILE`)]);
  }
  return parseTopology(text, file);
}

/** Parses and validates topology text; `file` names it in messages and anchors relative paths. */
export function parseTopology(text: string, file: string): LoadedTopology {
  const fail = (issues: ConfigIssue[]): never => {
    throw new ConfigError(file, byPosition(issues));
  };
  if (Buffer.byteLength(text) > limits.maxBytes) {
    fail([issue([], `topology is over ${limits.maxBytes} bytes`)]);
  }
  const depth = flowDepth(text);
  if (depth > limits.maxDepth) {
    fail([issue([], `nesting is ${depth} levels deep; a topology nests at most ${limits.maxDepth}`)]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  const parseIssues = [
    ...doc.errors.map((e) => issue([], yamlMessage(e.code, e.message), at(e.pos[0]))),
    ...doc.warnings.map((e) => issue([], yamlMessage(e.code, e.message), at(e.pos[0]), 'warning')),
  ];
  if (parseIssues.some((i) => i.severity === 'error')) fail(parseIssues);
  if (nodeDepth(doc.contents, 0) > limits.maxDepth) {
    fail([issue([], `nesting is deeper than ${limits.maxDepth} levels`)]);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: limits.maxAliases });
  } catch (error) {
    fail([
      issue([], `${(error as Error).message}; a topology may expand at most ${limits.maxAliases} aliases`),
    ]);
  }
  const policies = expandPolicyFiles(data, file, locator(doc, at));
  if (policies.issues.length) fail([...parseIssues, ...policies.issues]);
  const locate = policies.locate;
  // A section whose keys are all commented out (`cni:` and nothing else) is an empty section.
  dropNullSections(data, topologySchema as unknown as SchemaNode);
  if (!validateShape(data)) {
    // Every problem at once: the semantic checks still run on the parts whose shape is right.
    const shape = shapeIssues(validateShape.errors ?? [], data, locate);
    const rest = pruneToShape(data, validateShape.errors ?? []);
    const semantic = rest ? validateTopology(rest as never, file, locate).issues : [];
    const shown = new Set(shape.map((i) => i.path));
    fail([...parseIssues, ...shape, ...semantic.filter((i) => i.severity === 'error' && !shown.has(i.path))]);
  }
  const result = validateTopology(data as never, file, locate);
  const all = [...parseIssues, ...result.issues];
  if (all.some((i) => i.severity === 'error') || !result.topology) fail(all);
  return { file, topology: result.topology!, warnings: all.filter((i) => i.severity === 'warning') };
}

/**
 * Replaces each path in `networkPolicies` by the NetworkPolicy manifests of its file (YAML, one or
 * more documents; read relative to the topology), so that they are validated like inline ones. The
 * returned `locate` points into the policy file for what came from one.
 */
function expandPolicyFiles(
  data: unknown,
  file: string,
  locate: Locate,
): { locate: Locate; issues: ConfigIssue[] } {
  const list = (data as { networkPolicies?: unknown } | null)?.networkPolicies;
  if (!Array.isArray(list) || !list.some((p) => typeof p === 'string')) return { locate, issues: [] };
  const issues: ConfigIssue[] = [];
  const expanded: unknown[] = [];
  /** Where each item of the expanded list came from: an index of the written list, or a policy file's document. */
  const origin: ({ index: number } | { locate: Locate })[] = [];
  list.forEach((item, index) => {
    if (typeof item !== 'string') {
      expanded.push(item);
      origin.push({ index });
      return;
    }
    const where = locate(['networkPolicies', index]);
    const path = resolve(dirname(resolve(file)), item);
    let text: string;
    try {
      const size = statSync(path).size;
      if (size > limits.maxBytes) {
        issues.push(
          issue(
            ['networkPolicies', index],
            `${item} is ${size} bytes; a policy file may be at most ${limits.maxBytes}`,
            where,
          ),
        );
        return;
      }
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : String(error);
      issues.push(
        issue(
          ['networkPolicies', index],
          `cannot read the policy file ${item} (${path}): ${why}; paths are relative to the topology`,
          where,
        ),
      );
      return;
    }
    if (flowDepth(text) > limits.maxDepth) {
      issues.push(
        issue(['networkPolicies', index], `${item}: nesting is deeper than ${limits.maxDepth} levels`, where),
      );
      return;
    }
    const lines = new LineCounter();
    const at = (offset: number) => {
      const { line, col } = lines.linePos(offset);
      return `${path}:${line}:${col}`;
    };
    const docs = parseAllDocuments(text, {
      lineCounter: lines,
      uniqueKeys: true,
      prettyErrors: false,
      strict: true,
    });
    if (!Array.isArray(docs)) return;
    let found = 0;
    docs.forEach((d, n) => {
      const errors = d.errors.map((e) =>
        issue(['networkPolicies', index], `${item}: ${yamlMessage(e.code, e.message)}`, at(e.pos[0])),
      );
      if (errors.length) {
        issues.push(...errors);
        return;
      }
      if (d.contents === null) return;
      const docAt = at(d.contents.range[0]);
      if (nodeDepth(d.contents, 0) > limits.maxDepth) {
        issues.push(
          issue(
            ['networkPolicies', index],
            `${item}: nesting is deeper than ${limits.maxDepth} levels`,
            docAt,
          ),
        );
        return;
      }
      let value: unknown;
      try {
        value = d.toJS({ maxAliasCount: limits.maxAliases });
      } catch (error) {
        issues.push(issue(['networkPolicies', index], `${item}: ${(error as Error).message}`, docAt));
        return;
      }
      const kind = (value as { kind?: unknown } | null)?.kind;
      const apiVersion = (value as { apiVersion?: unknown } | null)?.apiVersion;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        issues.push(
          issue(['networkPolicies', index], `${item}, document ${n + 1}: not a manifest (a mapping)`, docAt),
        );
        return;
      }
      if (kind !== 'NetworkPolicy' || (apiVersion !== undefined && apiVersion !== 'networking.k8s.io/v1')) {
        issues.push(
          issue(
            ['networkPolicies', index],
            `${item}, document ${n + 1}: ${kind === undefined ? 'has no kind' : `is a ${String(kind)} (${String(apiVersion ?? 'no apiVersion')})`}; podlab takes NetworkPolicy manifests of networking.k8s.io/v1 only: move the other kinds out of this file`,
            docAt,
          ),
        );
        return;
      }
      found++;
      expanded.push(value);
      origin.push({ locate: locator(d as Document, at) });
    });
    if (found === 0 && !issues.length)
      issues.push(issue(['networkPolicies', index], `${item} holds no NetworkPolicy manifest`, where));
  });
  (data as { networkPolicies: unknown[] }).networkPolicies = expanded;
  return {
    issues,
    locate: (path, options) => {
      if (path[0] !== 'networkPolicies' || typeof path[1] !== 'number') return locate(path, options);
      const from = origin[path[1]];
      if (!from) return locate(path.slice(0, 1), options);
      return 'index' in from
        ? locate(['networkPolicies', from.index, ...path.slice(2)], options)
        : from.locate(path.slice(2), options);
    },
  };
}

/** The part of the JSON Schema that dropNullSections walks. */
interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  required?: string[];
}

/** Removes optional mappings and lists that are null (only comments under their key). */
function dropNullSections(data: unknown, schema: SchemaNode): void {
  if (Array.isArray(data)) {
    if (schema.items) for (const item of data) dropNullSections(item, schema.items);
    return;
  }
  if (data === null || typeof data !== 'object' || !schema.properties) return;
  const object = data as Record<string, unknown>;
  for (const [key, sub] of Object.entries(schema.properties)) {
    if (!(key in object)) continue;
    const types = [sub.type ?? []].flat();
    if (
      object[key] === null &&
      !schema.required?.includes(key) &&
      (types.includes('object') || types.includes('array'))
    )
      delete object[key];
    else dropNullSections(object[key], sub);
  }
}

/**
 * A copy of the document without the values the schema refused, for the semantic checks; undefined
 * when what is left is still not of the right shape (a required key is missing, say), so that only
 * the shape problems are reported. A refused list item takes its whole list with it (removing one
 * item would shift the positions of the others).
 */
function pruneToShape(data: unknown, errors: ErrorObject[]): unknown {
  let copy = structuredClone(data);
  let current = errors;
  for (let round = 0; round < 4 && current.length; round++) {
    for (const e of current) {
      const path = pathOf(e.instancePath);
      if (e.keyword === 'additionalProperties') path.push(String(e.params.additionalProperty));
      // Cut at the nearest key of a mapping: a list item goes with its whole list.
      while (path.length && typeof path.at(-1) === 'number') path.pop();
      if (path.length === 0) return undefined;
      const parent = valueAt(copy, path.slice(0, -1));
      if (parent && typeof parent === 'object' && !Array.isArray(parent))
        delete (parent as Record<string, unknown>)[path.at(-1) as string];
    }
    if (validateShape(copy)) return copy;
    current = validateShape.errors ?? [];
    copy = structuredClone(copy);
  }
  return undefined;
}

function pathOf(instancePath: string): PathPart[] {
  return instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

/** Sorts issues as a reader meets them in the file; those without a position first. */
function byPosition(issues: ConfigIssue[]): ConfigIssue[] {
  const key = (i: ConfigIssue) => {
    const m = /:(\d+):(\d+)$/.exec(i.position ?? '');
    return m ? Number(m[1]) * 100_000 + Number(m[2]) : 0;
  };
  return [...issues].sort((a, b) => key(a) - key(b));
}

function issue(
  path: readonly PathPart[],
  message: string,
  position?: string,
  severity: 'error' | 'warning' = 'error',
): ConfigIssue {
  return { path: formatPath(path), message, severity, ...(position ? { position } : {}) };
}

function yamlMessage(code: string, message: string): string {
  const first = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  if (code === 'DUPLICATE_KEY') return 'duplicate key: each key may appear once in a mapping';
  return `YAML: ${first}`;
}

/** The deepest flow nesting (`[` / `{`) outside quotes: measured before parsing, which would recurse that deep. */
function flowDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#') while (i < text.length && text[i] !== '\n') i++;
    else if (c === '[' || c === '{') max = Math.max(max, ++depth);
    else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
  return max;
}

function nodeDepth(node: unknown, depth: number): number {
  if (depth > limits.maxDepth) return depth;
  const items = (node as { items?: unknown[] } | null)?.items;
  if (!Array.isArray(items)) return depth;
  let max = depth + 1;
  for (const item of items) {
    const child =
      (item as { value?: unknown; key?: unknown }).value !== undefined && isMap(node)
        ? (item as { value: unknown }).value
        : item;
    max = Math.max(max, nodeDepth(child, depth + 1));
    if (max > limits.maxDepth) break;
  }
  return max;
}

function locator(doc: Document, at: (offset: number) => string): Locate {
  return (path, options = {}) => {
    const key = path.at(-1);
    if (options.key && typeof key === 'string') {
      const map = doc.getIn(path.slice(0, -1), true);
      const pair = isMap(map) ? map.items.find((p) => isScalar(p.key) && p.key.value === key) : undefined;
      const range = isScalar(pair?.key) ? pair.key.range : undefined;
      if (range) return at(range[0]);
    }
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (range) return at(range[0]);
    }
    return undefined;
  };
}

function shapeIssues(errors: ErrorObject[], data: unknown, locate: Locate): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // A networkPolicies item is a manifest or a file path; paths are read before this, so the
    // manifest branch's own problems say what is wrong.
    if (e.keyword === 'anyOf' || e.schemaPath.includes('/anyOf/1/')) continue;
    const path = pathOf(e.instancePath);
    let message: string;
    let target: PathPart[] = path;
    let atKey = false;
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = String(e.params.additionalProperty);
        const allowed = Object.keys(propertiesAt(path) ?? {});
        message = `unknown key "${key}"${allowed.length ? `; known keys here: ${allowed.join(', ')}` : ''}`;
        target = [...path, key];
        atKey = true;
        break;
      }
      case 'required':
        message = `missing required key "${e.params.missingProperty}"`;
        break;
      case 'const':
        message =
          path[0] === 'apiVersion'
            ? `unsupported apiVersion ${JSON.stringify(valueAt(data, path))}; this podlab reads "podlab/v1"`
            : `must be ${JSON.stringify(e.params.allowedValue)}`;
        break;
      case 'enum':
        message = `must be one of ${(e.params.allowedValues as unknown[]).join(', ')}, not ${JSON.stringify(valueAt(data, path))}`;
        break;
      case 'type':
        message = `must be ${[e.params.type].flat().join(' or ')}, not ${describe(valueAt(data, path))}`;
        break;
      default:
        message = e.message ?? e.keyword;
    }
    const text = `${formatPath(target)}: ${message}`;
    if (seen.has(text)) continue;
    seen.add(text);
    const position = locate(target, { key: atKey });
    out.push({ path: formatPath(target), message, severity: 'error', ...(position ? { position } : {}) });
  }
  return out;
}

function valueAt(data: unknown, path: readonly PathPart[]): unknown {
  let v = data;
  for (const p of path) v = (v as Record<string | number, unknown> | undefined)?.[p];
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** The `properties` of the schema at a data path, to list the keys allowed there. */
function propertiesAt(path: readonly PathPart[]): Record<string, unknown> | undefined {
  let s: Record<string, unknown> | undefined = topologySchema as unknown as Record<string, unknown>;
  for (const p of path) {
    if (!s) return undefined;
    if (typeof p === 'number') s = s.items as Record<string, unknown> | undefined;
    else s = (s.properties as Record<string, Record<string, unknown>> | undefined)?.[p];
  }
  return s?.properties as Record<string, unknown> | undefined;
}
