import { describe, expect, it } from '@jest/globals';
import { ModelInputError } from '../../../../operator/src/model/model-error.ts';
import { quantityToBytes } from '../../../../operator/src/model/quantity.ts';

describe('quantityToBytes', () => {
  it.each([
    ['256Mi', 268435456],
    ['1Gi', 1073741824],
    ['1.5Gi', 1610612736],
    ['1G', 1e9],
    ['500k', 500000],
    ['1e9', 1e9],
    ['1048576', 1048576],
    [4096, 4096],
    ['1500m', 2],
  ])('%s is %i bytes', (quantity, bytes) => {
    expect(quantityToBytes('x', quantity)).toBe(bytes);
  });

  it.each(['', 'Mi', '1Xi', '1 Gi', '-1Gi'])('rejects %j', (quantity) => {
    expect(() => quantityToBytes('spec.cache.redis.maxMemory', quantity)).toThrow(ModelInputError);
  });
});
