import { describe, expect, it } from '@jest/globals';
import {
  CachedAuthorizer,
  decide,
  isLoopback,
  type ReviewApi,
  type UserInfo,
} from '../../../../operator/src/dashboard/auth.ts';

/** The apiserver's answers at the boundary: tokens to users, users allowed. */
function fakeApi(users: Record<string, string>, allowed: readonly string[]) {
  const calls = { tokenReviews: 0, accessReviews: [] as UserInfo[] };
  const api: ReviewApi = {
    tokenReview(token) {
      calls.tokenReviews++;
      const username = users[token];
      return Promise.resolve(username === undefined ? undefined : { username, groups: ['g'] });
    },
    accessReview(user) {
      calls.accessReviews.push(user);
      const ok = allowed.includes(user.username);
      return Promise.resolve({ allowed: ok, reason: ok ? 'bound' : '' });
    },
  };
  return { api, calls };
}

describe('decide', () => {
  const { api, calls } = fakeApi({ good: 'alice', weak: 'bob' }, ['alice']);

  it('answers 401 without a bearer token, saying how to get one', async () => {
    for (const header of [undefined, '', 'Basic YWxpY2U6cHc=', 'Bearer ']) {
      const decision = await decide(header, api);
      expect(decision.status).toBe(401);
      expect(decision).toMatchObject({ message: expect.stringContaining('kubectl create token') });
    }
  });

  it('answers 401 for a token the TokenReview does not authenticate', async () => {
    expect(await decide('Bearer forged', api)).toMatchObject({ status: 401 });
  });

  it('answers 403 for a user the SubjectAccessReview denies, naming the permission', async () => {
    const decision = await decide('Bearer weak', api);
    expect(decision.status).toBe(403);
    expect(decision).toMatchObject({
      message: expect.stringContaining(
        'user "bob" may not read the dashboard: it needs get on distributedapps.capstan.dev',
      ),
    });
  });

  it('answers 200 for a permitted user, passing the reviewed user with its groups on', async () => {
    expect(await decide('bearer good', api)).toEqual({ status: 200, user: 'alice' });
    expect(calls.accessReviews.at(-1)).toEqual({ username: 'alice', groups: ['g'] });
  });

  it('answers 503 when the apiserver cannot be asked', async () => {
    const broken: ReviewApi = {
      tokenReview: () => Promise.reject(new Error('connection refused')),
      accessReview: () => Promise.reject(new Error('unused')),
    };
    expect(await decide('Bearer good', broken)).toEqual({
      status: 503,
      message: 'cannot check the token with the Kubernetes API: connection refused',
    });
  });
});

describe('CachedAuthorizer', () => {
  it('asks the apiserver once per token within the TTL, again after it', async () => {
    const { api, calls } = fakeApi({ good: 'alice' }, ['alice']);
    let now = 1_000;
    const authorizer = new CachedAuthorizer({ api, ttlMs: 10_000, now: () => now });
    expect(await authorizer.decide('Bearer good')).toMatchObject({ status: 200 });
    expect(await authorizer.decide('Bearer good')).toMatchObject({ status: 200 });
    expect(await authorizer.decide('Bearer other')).toMatchObject({ status: 401 });
    expect(calls.tokenReviews).toBe(2);
    now += 10_001;
    await authorizer.decide('Bearer good');
    expect(calls.tokenReviews).toBe(3);
  });

  it('does not remember an apiserver outage', async () => {
    let up = false;
    const api: ReviewApi = {
      tokenReview: () => (up ? Promise.resolve({ username: 'alice' }) : Promise.reject(new Error('down'))),
      accessReview: () => Promise.resolve({ allowed: true, reason: '' }),
    };
    const authorizer = new CachedAuthorizer({ api });
    expect(await authorizer.decide('Bearer t')).toMatchObject({ status: 503 });
    up = true;
    expect(await authorizer.decide('Bearer t')).toMatchObject({ status: 200 });
  });
});

describe('isLoopback', () => {
  it('is true only for loopback hosts', () => {
    expect(['127.0.0.1', '127.3.2.1', '::1', 'localhost'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['0.0.0.0', '::', '10.0.0.1', ''].map(isLoopback)).toEqual([false, false, false, false]);
  });
});
