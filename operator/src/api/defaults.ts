import { Value } from '@sinclair/typebox/value';
import { DistributedApp, DistributedAppSpec } from './schema.ts';
import type { DistributedApp as App, DistributedAppSpec as Spec } from './schema.ts';

/** Objects that leave out fields with defaults, at any depth (as users write them). */
export type WithoutDefaults<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: WithoutDefaults<T[K]> }
    : T;

/**
 * The spec with every OpenAPI default filled in, as the apiserver stores it. Does not validate: CEL
 * rules and bounds are the apiserver's job. Never mutates `spec`.
 */
export function applySpecDefaults(spec: WithoutDefaults<Spec>): Spec {
  return Value.Default(DistributedAppSpec, Value.Clone(spec)) as Spec;
}

/** The app with every OpenAPI default of its spec filled in. Never mutates `app`. */
export function applyDefaults(app: WithoutDefaults<App>): App {
  return Value.Default(DistributedApp, Value.Clone(app)) as App;
}
