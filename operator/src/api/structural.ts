import type { TSchema } from '@sinclair/typebox';

/** A JSON Schema node as plain data. */
export type JsonSchema = { [key: string]: unknown };

/** Keys TypeBox or JSON Schema tooling may add that a CRD schema must not carry. */
const DROPPED_KEYS = new Set(['$id', '$schema']);

/** Keys first in this order, so the generated YAML reads description-first; the rest keep their order. */
const KEY_ORDER = ['description', 'type', 'format', 'default', 'enum', 'required', 'properties', 'items'];

function rank(key: string): number {
  const index = KEY_ORDER.indexOf(key);
  if (index >= 0) return index;
  return key === 'x-kubernetes-validations' ? KEY_ORDER.length + 1 : KEY_ORDER.length;
}

function ordered(node: JsonSchema): JsonSchema {
  return Object.fromEntries(Object.entries(node).sort(([a], [b]) => rank(a) - rank(b)));
}

function isRecord(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function convertProperties(properties: JsonSchema): JsonSchema {
  return Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, convertNode(value)]));
}

/** `required` without the properties that have a default: the apiserver fills those in. */
function requiredWithoutDefaults(node: JsonSchema): string[] {
  const required = Array.isArray(node.required) ? (node.required as string[]) : [];
  const properties = isRecord(node.properties) ? node.properties : {};
  return required.filter((key) => {
    const property = properties[key];
    return !(isRecord(property) && 'default' in property);
  });
}

function convertNode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(convertNode);
  if (!isRecord(value)) return value;
  const out: JsonSchema = {};
  for (const [key, child] of Object.entries(value)) {
    if (DROPPED_KEYS.has(key) || key === 'required') continue;
    if (key === 'properties' && isRecord(child)) out[key] = convertProperties(child);
    else if (key === 'default') out[key] = structuredClone(child);
    else out[key] = convertNode(child);
  }
  const required = requiredWithoutDefaults(value);
  if (required.length > 0) out.required = required;
  return ordered(out);
}

/**
 * Converts a TypeBox schema into a structural OpenAPI v3 schema for a CRD: symbols (TypeBox's
 * Kind/Optional markers) and `$id`/`$schema` are dropped, and properties with a default leave
 * `required` (TypeBox marks them required so the static type is the stored, defaulted shape).
 * Never mutates its input.
 */
export function toStructural(schema: TSchema): JsonSchema {
  return convertNode(JSON.parse(JSON.stringify(schema))) as JsonSchema;
}
