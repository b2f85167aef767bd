import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import type { DesiredObject } from '../../../../operator/src/model/desired-state.ts';

/** The pod template of a StatefulSet or Deployment, if the object is one. */
export function podTemplate(object: DesiredObject): V1PodTemplateSpec | undefined {
  if (object.kind !== 'StatefulSet' && object.kind !== 'Deployment') return undefined;
  return (object as { spec?: { template?: V1PodTemplateSpec } }).spec?.template;
}

/** `kind/name` of an object, for readable failures. */
export function ref(object: DesiredObject): string {
  return `${object.kind}/${object.metadata.name}`;
}

/** The objects of `kind` named `name`; throws when there is none. */
export function find<T = DesiredObject>(objects: DesiredObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind}/${name} in ${objects.map(ref).join(', ')}`);
  return found as unknown as T;
}
