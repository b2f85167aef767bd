import { describe, expect, it } from '@jest/globals';
import { CoordinatorActivity } from '../../../../operator/src/coordination/coordinator-activity.ts';

const SHOP = { namespace: 'demo', app: 'shop' };

describe('CoordinatorActivity', () => {
  it('counts an app as coordinated from its first start until its last coordinator closed', () => {
    const activity = new CoordinatorActivity();
    expect(activity.isCoordinating(SHOP)).toBe(false);
    activity.began(SHOP);
    // A restart: the new coordinator starts while the old one still closes its session.
    activity.began(SHOP);
    activity.ended(SHOP);
    expect(activity.isCoordinating(SHOP)).toBe(true);
    expect(activity.isCoordinating({ namespace: 'demo', app: 'other' })).toBe(false);
    expect(activity.isCoordinating({ namespace: 'other', app: 'shop' })).toBe(false);
    activity.ended(SHOP);
    expect(activity.isCoordinating(SHOP)).toBe(false);
  });
});
