import { describe, expect, it } from '@jest/globals';
import { AppDefinitionError, defineApp } from '../../../workload/src/define-app.ts';
import type { PartitionedRoute } from '../../../workload/src/define-app.ts';

const route = (method: PartitionedRoute['method'], url: string): PartitionedRoute => ({
  method,
  url,
  handler: async () => Promise.resolve({}),
});

describe('defineApp', () => {
  it('returns a frozen definition', () => {
    const app = defineApp({ name: 'greetings', routes: [route('GET', '/v1/g/:key')] });
    expect(Object.isFrozen(app)).toBe(true);
    expect(Object.isFrozen(app.routes)).toBe(true);
  });

  it.each([
    [{ name: 'Bad_Name', routes: [route('GET', '/a/:key')] }, /DNS label/],
    [{ name: 'x', routes: [] }, /no routes/],
    [{ name: 'x', routes: [route('GET', 'a/:key')] }, /must start with/],
    [{ name: 'x', routes: [route('GET', '/metrics')] }, /reserved/],
    [{ name: 'x', routes: [route('GET', '/a/:key'), route('GET', '/a/:key')] }, /twice/],
  ])('rejects an invalid definition', (definition, message) => {
    expect(() => defineApp(definition)).toThrow(AppDefinitionError);
    expect(() => defineApp(definition)).toThrow(message);
  });
});
