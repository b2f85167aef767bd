import { describe, expect, it } from '@jest/globals';
import { APP_NAME_MAX_LENGTH } from '../../../../operator/src/api/limits.ts';
import { desiredState } from '../../../../operator/src/model/desired-state.ts';
import type { DesiredObject } from '../../../../operator/src/model/desired-state.ts';
import { MAX_APP_NAME_LENGTH, nameLimits } from '../../../../operator/src/model/names.ts';
import { appNamed, externalApp, minimalApp, OBSERVED, productionApp } from './fixtures.ts';
import { podTemplate, ref } from './helpers.ts';

const APPS = [
  ['minimal', minimalApp],
  ['production', productionApp],
  ['external', externalApp],
] as const;

const STANDARD_LABELS = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/component',
  'app.kubernetes.io/part-of',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/version',
];

describe.each(APPS)('every object of the %s app', (_name, build) => {
  const app = build();
  const objects = desiredState(app, OBSERVED);

  it('is complete: apiVersion, kind, name and namespace', () => {
    for (const object of objects) {
      expect(object.apiVersion).toMatch(/^[a-z0-9./]*v1$/);
      expect(object.kind).toMatch(/^[A-Z]/);
      expect(object.metadata.namespace).toBe(app.metadata.namespace);
    }
  });

  it('has one controller owner reference to the app', () => {
    for (const object of objects) {
      expect(object.metadata.ownerReferences).toEqual([
        {
          apiVersion: 'capstan.dev/v1alpha1',
          kind: 'DistributedApp',
          name: app.metadata.name,
          uid: app.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
  });

  it('carries the standard labels, on the object and on its pods', () => {
    for (const object of objects) {
      const labelSets = [object.metadata.labels, podTemplate(object)?.metadata?.labels];
      for (const labels of labelSets.filter((l) => l !== undefined)) {
        expect(Object.keys(labels).sort()).toEqual([...STANDARD_LABELS].sort());
        expect(labels['app.kubernetes.io/instance']).toBe(app.metadata.name);
        expect(labels['app.kubernetes.io/managed-by']).toBe('capstan');
      }
    }
  });

  it('has unique kind/name pairs', () => {
    const refs = objects.map(ref);
    expect(new Set(refs).size).toBe(refs.length);
  });

  it('runs every pod non-root, read-only, without capabilities, with seccomp RuntimeDefault', () => {
    const templates = objects.map(podTemplate).filter((t) => t !== undefined);
    expect(templates.length).toBeGreaterThan(0);
    for (const template of templates) {
      const pod = template.spec!;
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.securityContext!.runAsUser).toBeGreaterThan(0);
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
        expect(container.securityContext).toMatchObject({
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(container.securityContext!.capabilities!.add).toBeUndefined();
      }
    }
  });

  it('is the same for the same inputs and leaves the app untouched', () => {
    const before = structuredClone(app);
    expect(desiredState(app, OBSERVED)).toEqual(objects);
    expect(app).toEqual(before);
  });
});

describe('names', () => {
  it('lets the API accept no longer app name than the derived names allow', () => {
    expect(APP_NAME_MAX_LENGTH).toBeLessThanOrEqual(MAX_APP_NAME_LENGTH);
  });

  it.each([APP_NAME_MAX_LENGTH, MAX_APP_NAME_LENGTH])(
    'stay within limits for a %i-character app name',
    (length) => {
      const name = 'a'.repeat(length);
      for (const limit of nameLimits(name)) {
        expect(limit.name.length).toBeLessThanOrEqual(limit.max);
      }
      const objects: DesiredObject[] = desiredState(appNamed(name), OBSERVED);
      for (const object of objects) {
        expect(object.metadata.name.length).toBeLessThanOrEqual(object.kind === 'Service' ? 63 : 253);
        const labels = { ...object.metadata.labels, ...podTemplate(object)?.metadata?.labels };
        for (const value of Object.values(labels)) expect(value.length).toBeLessThanOrEqual(63);
      }
    },
  );

  it('go over a limit one character past the maximum', () => {
    const tooLong = nameLimits('a'.repeat(MAX_APP_NAME_LENGTH + 1));
    expect(tooLong.some((limit) => limit.name.length > limit.max)).toBe(true);
  });
});
