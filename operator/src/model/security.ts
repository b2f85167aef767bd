import type {
  V1PodSecurityContext,
  V1SecurityContext,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { Component } from './labels.ts';

/**
 * The unprivileged user each component's image runs as (the official images' `redis`, `zookeeper` and
 * `haproxy` users; `node` in the worker image). Numeric, so the kubelet can enforce `runAsNonRoot`.
 */
const RUN_AS_USER: Record<Component, number> = {
  workers: 1000,
  redis: 999,
  zookeeper: 1000,
  haproxy: 99,
};

/**
 * Pod security context of `component`: a fixed non-root user and group, `fsGroup` so mounted volumes are
 * writable by it, and the runtime's default seccomp profile.
 */
export function podSecurityContext(component: Component): V1PodSecurityContext {
  const id = RUN_AS_USER[component];
  return {
    runAsNonRoot: true,
    runAsUser: id,
    runAsGroup: id,
    fsGroup: id,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * Container security context of every container: non-root, read-only root filesystem, no privilege
 * escalation, all capabilities dropped, seccomp RuntimeDefault.
 */
export function containerSecurityContext(): V1SecurityContext {
  return {
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Name of the writable scratch volume every pod mounts at /tmp (the root filesystem is read-only). */
export const TMP_VOLUME = 'tmp';

/** The `/tmp` emptyDir volume (memory-backed, capped) of a pod. */
export function tmpVolume(): V1Volume {
  return { name: TMP_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } };
}

/** The `/tmp` mount matching {@link tmpVolume}. */
export function tmpMount(): V1VolumeMount {
  return { name: TMP_VOLUME, mountPath: '/tmp' };
}
