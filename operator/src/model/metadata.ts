import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { DistributedApp } from '../api/schema.ts';
import { standardLabels } from './labels.ts';
import type { Component } from './labels.ts';
import { appIdentity, controllerReference } from './owner.ts';

/** Object metadata with the fields every desired object has. */
export type DesiredMeta = V1ObjectMeta & { name: string; namespace: string };

/**
 * Metadata of a desired object named `name` for `component`: the app's namespace, the standard labels
 * (versioned by `image`, when given) and the controller owner reference. Nothing the server owns.
 */
export function objectMeta(
  app: DistributedApp,
  component: Component,
  name: string,
  image?: string,
): DesiredMeta {
  return {
    name,
    namespace: appIdentity(app).namespace,
    labels: standardLabels(app, component, image),
    ownerReferences: [controllerReference(app)],
  };
}

/** A desired object: a client-node type with apiVersion, kind, name and namespace always set. */
export type Desired<T> = T & { apiVersion: string; kind: string; metadata: DesiredMeta };
