import { describe, expect, it } from '@jest/globals';
import { imageTag, standardLabels } from '../../../../operator/src/model/labels.ts';
import { minimalApp, productionApp } from './fixtures.ts';

describe('imageTag', () => {
  it.each([
    ['redis:7.2', '7.2'],
    ['localhost:5000/redis:7', '7'],
    ['localhost:5000/redis', undefined],
    ['redis', undefined],
    ['redis@sha256:abc', undefined],
    ['redis:7@sha256:abc', '7'],
  ])('of %s is %s', (image, tag) => {
    expect(imageTag(image)).toBe(tag);
  });
});

describe('standardLabels', () => {
  it('takes part-of from the app when it has one', () => {
    expect(standardLabels(productionApp(), 'redis', 'redis:7')['app.kubernetes.io/part-of']).toBe('shop');
    expect(standardLabels(minimalApp(), 'redis', 'redis:7')['app.kubernetes.io/part-of']).toBe('capstan');
  });

  it('leaves version out when the image has no tag', () => {
    expect(standardLabels(minimalApp(), 'redis', 'redis')).not.toHaveProperty(['app.kubernetes.io/version']);
  });
});
