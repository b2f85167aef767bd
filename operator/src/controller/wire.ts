/**
 * client-node's model types name a few fields differently from the API (`_from` for NetworkPolicy
 * `from`); its serializer writes the wire form. The builders return model types, so every object is
 * serialized before it is hashed or sent.
 */
// The package has no `exports` map and does not re-export its model serializer from the index.
import { ObjectSerializer } from '@kubernetes/client-node/dist/serializer.js';
import type { KubernetesObject } from '@kubernetes/client-node';

/** The wire (JSON) form of a built-in object of `kind` given as a client-node model. */
export function toWire<T extends KubernetesObject>(obj: T, kind: string): T {
  return ObjectSerializer.serialize(obj, `V1${kind}`) as T;
}
