import type { TSchema } from '@sinclair/typebox';
import { DistributedApp, DistributedAppSpec } from './schema.ts';
import type { DistributedApp as App, DistributedAppSpec as Spec } from './schema.ts';

/** Objects that leave out fields with defaults, at any depth (as users write them). */
export type WithoutDefaults<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: WithoutDefaults<T[K]> }
    : T;

type Node = { [key: string]: unknown };

function isRecord(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fillObject(schema: Node, value: Node): Node {
  const properties = (schema.properties ?? {}) as Record<string, Node>;
  const out: Node = { ...value };
  for (const [key, property] of Object.entries(properties)) {
    if (out[key] === undefined && 'default' in property) out[key] = structuredClone(property.default);
  }
  for (const [key, child] of Object.entries(out)) {
    const property =
      properties[key] ?? (isRecord(schema.additionalProperties) ? schema.additionalProperties : undefined);
    if (property) out[key] = fill(property, child);
  }
  return out;
}

/**
 * Fills defaults the way the apiserver does: a default applies only where the field is absent (an
 * object default is not merged into a present object), then defaulting continues inside the value.
 */
function fill(schema: Node, value: unknown): unknown {
  if (Array.isArray(value) && isRecord(schema.items))
    return value.map((item) => fill(schema.items as Node, item));
  if (isRecord(value)) return fillObject(schema, value);
  return value;
}

function defaulted(schema: TSchema, value: unknown): unknown {
  return fill(schema, value);
}

/**
 * The spec with every OpenAPI default filled in, as the apiserver stores it. Does not validate: CEL
 * rules and bounds are the apiserver's job. Never mutates `spec`.
 */
export function applySpecDefaults(spec: WithoutDefaults<Spec>): Spec {
  return defaulted(DistributedAppSpec, spec) as Spec;
}

/** The app with every OpenAPI default of its spec filled in. Never mutates `app`. */
export function applyDefaults(app: WithoutDefaults<App>): App {
  return defaulted(DistributedApp, app) as App;
}
