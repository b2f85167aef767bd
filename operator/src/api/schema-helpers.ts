import { Type } from '@sinclair/typebox';
import type { Static, TUnsafe, TSchema } from '@sinclair/typebox';

/** One CEL rule of `x-kubernetes-validations`. */
export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** Schema options every node accepts: a description is required so `kubectl explain` says something. */
export interface Described {
  description: string;
  default?: unknown;
  'x-kubernetes-validations'?: CelRule[];
}

/** A string restricted to `values` (a plain `enum`, which structural schemas accept, unlike `anyOf`). */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: Described,
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, type: 'string', enum: [...values] });
}

/** The pattern Kubernetes uses for `resource.Quantity`. */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/** A resource quantity such as `512Mi` or `2` (int-or-string, as Kubernetes' own resource lists). */
export function Quantity(options: Described): TUnsafe<string | number> {
  return Type.Unsafe<string | number>({
    ...options,
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: QUANTITY_PATTERN,
  });
}

/** A string-keyed map of `value` schemas (structural: `additionalProperties` with a schema). */
export function StringMap<T extends TSchema>(
  value: T,
  options: Described & { maxProperties: number },
): TUnsafe<Record<string, Static<T>>> {
  return Type.Unsafe<Record<string, Static<T>>>({ ...options, type: 'object', additionalProperties: value });
}
