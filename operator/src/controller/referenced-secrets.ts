import type { V1Secret } from '@kubernetes/client-node';
import type { DistributedApp } from '../api/schema.ts';
import type { Store } from '../runtime/index.ts';

/** A Secret key an app refers to, and the spec field that refers to it. */
export interface SecretReference {
  name: string;
  key: string;
  field: string;
}

/**
 * The Secrets the app's spec refers to (the operator reads none of them; the workers mount them):
 * the external Redis password, the Sentry DSN and the workers' `env[].valueFrom.secretKeyRef`.
 */
export function referencedSecrets(app: DistributedApp): SecretReference[] {
  const external = app.spec.cache.external?.passwordSecretRef;
  const sentry = app.spec.errorReporting?.sentry?.dsnSecretRef;
  const env = (app.spec.workers.env ?? []).flatMap((variable, index) => {
    const ref = variable.valueFrom?.secretKeyRef;
    return ref === undefined
      ? []
      : [{ name: ref.name, key: ref.key, field: `spec.workers.env[${index}].valueFrom.secretKeyRef` }];
  });
  return [
    ...(external === undefined
      ? []
      : [
          {
            name: external.name,
            key: external.key ?? 'password',
            field: 'spec.cache.external.passwordSecretRef',
          },
        ]),
    ...(sentry === undefined
      ? []
      : [{ name: sentry.name, key: sentry.key ?? 'dsn', field: 'spec.errorReporting.sentry.dsnSecretRef' }]),
    ...env,
  ];
}

/** Whether the Secret exists in the cache and has the key. */
export function secretHasKey(secrets: Store<V1Secret>, namespace: string, ref: SecretReference): boolean {
  const secret = secrets.get(namespace, ref.name);
  return (
    secret !== undefined &&
    (Object.hasOwn(secret.data ?? {}, ref.key) || Object.hasOwn(secret.stringData ?? {}, ref.key))
  );
}

/** The references whose Secret (or key) does not exist, in spec order. */
export function missingSecrets(app: DistributedApp, secrets: Store<V1Secret>): SecretReference[] {
  const namespace = app.metadata.namespace ?? '';
  return referencedSecrets(app).filter((ref) => !secretHasKey(secrets, namespace, ref));
}

/** A person-readable sentence naming the missing Secrets. */
export function describeMissing(missing: readonly SecretReference[]): string {
  return missing
    .map((ref) => `Secret "${ref.name}" (key "${ref.key}", from ${ref.field}) not found`)
    .join('; ');
}
